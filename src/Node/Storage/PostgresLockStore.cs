using CollabAkka.Entities.Resources;
using Npgsql;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Locks and fencing tokens in PostgreSQL; same semantics as <see cref="SqliteLockStore"/>. A save is one
/// statement (the lock upsert in a CTE, then the token raise), so the grant and its token land together.
/// </summary>
public sealed class PostgresLockStore(PostgresDatabase database) : ILockStore
{
    public Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Locks, connection => LoadAsync(connection, rootResourceId, cancellationToken), cancellationToken);

    private static async Task<LockSnapshot> LoadAsync(NpgsqlConnection connection, string rootResourceId, CancellationToken cancellationToken)
    {
        var locks = new List<LockRecord>();
        var tokens = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("""
                    SELECT resource_id, lock_id, user_id, username, role, session_id, acquired_at, expires_at, fencing_token, ttl_ms
                    FROM locks WHERE root_id = $1
                    """) { Parameters = { new NpgsqlParameter { Value = rootResourceId } } },
                new NpgsqlBatchCommand("SELECT resource_id, last_token FROM fencing_tokens WHERE root_id = $1")
                {
                    Parameters = { new NpgsqlParameter { Value = rootResourceId } },
                },
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            locks.Add(new LockRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.GetInt64(8), TimeSpan.FromMilliseconds(reader.GetInt64(9))));
        }
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tokens[reader.GetString(0)] = reader.GetInt64(1);
        }
        return new LockSnapshot(locks, tokens);
    }

    public Task<EntityClaim> ClaimAsync(string rootResourceId, string nodeId, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Locks, async connection =>
        {
            // The claim's row lock waits for every writer holding the old epoch FOR SHARE; after it commits, those
            // writes are visible and any later one with the old epoch is refused.
            await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var claim = new NpgsqlCommand("""
                INSERT INTO resource_epochs (root_id, epoch, owner_node, claimed_at) VALUES (@root, 1, @node, now())
                ON CONFLICT (root_id) DO UPDATE SET epoch = resource_epochs.epoch + 1, owner_node = excluded.owner_node, claimed_at = now()
                RETURNING epoch
                """, connection, tx);
            claim.Parameters.AddWithValue("root", rootResourceId);
            claim.Parameters.AddWithValue("node", nodeId);
            var epoch = (long)(await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new EntityClaim(epoch, await LoadAsync(connection, rootResourceId, cancellationToken).ConfigureAwait(false));
        }, cancellationToken);

    public Task<StoreWrite> SaveAsync(LockRecord record, long epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return database.RunAsync(PostgresCircuits.Locks, async connection =>
        {
            // One statement: the epoch row is locked FOR SHARE (a concurrent claim waits for us, or we see its epoch),
            // and the lock and its token are written only when the epoch is current and a new lock's token is fresh.
            await using var upsert = new NpgsqlCommand("""
                WITH owner AS (SELECT epoch FROM resource_epochs WHERE root_id = @root FOR SHARE),
                ok AS (
                    SELECT 1 AS ok WHERE COALESCE((SELECT epoch FROM owner), 0) = @epoch
                    AND (EXISTS (SELECT 1 FROM locks WHERE resource_id = @resource AND lock_id = @lock)
                         OR @token > COALESCE((SELECT last_token FROM fencing_tokens WHERE resource_id = @resource), 0))),
                saved AS (
                    INSERT INTO locks (resource_id, lock_id, root_id, user_id, username, role, session_id, acquired_at, expires_at, fencing_token, ttl_ms)
                    SELECT @resource, @lock, @root, @user, @username, @role, @session, @acquired, @expires, @token, @ttl FROM ok
                    ON CONFLICT (resource_id, lock_id) DO UPDATE SET expires_at = excluded.expires_at, session_id = excluded.session_id
                    RETURNING 1),
                raised AS (
                    INSERT INTO fencing_tokens (resource_id, root_id, last_token) SELECT @resource, @root, @token FROM ok
                    ON CONFLICT (resource_id) DO UPDATE SET last_token = GREATEST(fencing_tokens.last_token, excluded.last_token)
                    RETURNING 1)
                SELECT (SELECT COUNT(*) FROM saved) + (SELECT COUNT(*) FROM raised)
                """, connection);
            upsert.Parameters.AddWithValue("resource", record.ResourceId);
            upsert.Parameters.AddWithValue("lock", record.LockId);
            upsert.Parameters.AddWithValue("root", StoreKeys.RootOf(record.ResourceId));
            upsert.Parameters.AddWithValue("epoch", epoch);
            upsert.Parameters.AddWithValue("user", record.UserId);
            upsert.Parameters.AddWithValue("username", record.Username);
            upsert.Parameters.AddWithValue("role", record.Role);
            upsert.Parameters.AddWithValue("session", record.SessionId);
            upsert.Parameters.AddWithValue("acquired", PostgresAuditStore.Millis(record.AcquiredAt));
            upsert.Parameters.AddWithValue("expires", PostgresAuditStore.Millis(record.ExpiresAt));
            upsert.Parameters.AddWithValue("token", record.FencingToken);
            upsert.Parameters.AddWithValue("ttl", (long)record.Ttl.TotalMilliseconds);
            var written = (long)(await upsert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            return written > 0 ? StoreWrite.Written : StoreWrite.Fenced;
        }, cancellationToken);
    }

    public Task<StoreWrite> DeleteAsync(string resourceId, string lockId, long epoch, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Locks, async connection =>
        {
            await using var delete = new NpgsqlCommand("""
                WITH owner AS (SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = @root FOR SHARE), 0) AS epoch),
                gone AS (DELETE FROM locks WHERE resource_id = @resource AND lock_id = @lock AND (SELECT epoch FROM owner) = @epoch RETURNING 1)
                SELECT (SELECT epoch FROM owner), (SELECT COUNT(*) FROM gone)
                """, connection);
            delete.Parameters.AddWithValue("resource", resourceId);
            delete.Parameters.AddWithValue("lock", lockId);
            delete.Parameters.AddWithValue("root", StoreKeys.RootOf(resourceId));
            delete.Parameters.AddWithValue("epoch", epoch);
            await using var reader = await delete.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return reader.GetInt64(0) == epoch ? StoreWrite.Written : StoreWrite.Fenced;
        }, cancellationToken);
}
