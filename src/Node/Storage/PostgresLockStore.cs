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
        database.RunAsync(PostgresCircuits.Locks, async connection =>
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
        }, cancellationToken);

    public Task SaveAsync(LockRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return database.RunAsync(PostgresCircuits.Locks, async connection =>
        {
            await using var upsert = new NpgsqlCommand("""
                WITH saved AS (
                    INSERT INTO locks (resource_id, lock_id, root_id, user_id, username, role, session_id, acquired_at, expires_at, fencing_token, ttl_ms)
                    VALUES (@resource, @lock, @root, @user, @username, @role, @session, @acquired, @expires, @token, @ttl)
                    ON CONFLICT (resource_id, lock_id) DO UPDATE SET expires_at = excluded.expires_at, session_id = excluded.session_id
                    RETURNING 1)
                INSERT INTO fencing_tokens (resource_id, root_id, last_token) VALUES (@resource, @root, @token)
                ON CONFLICT (resource_id) DO UPDATE SET last_token = GREATEST(fencing_tokens.last_token, excluded.last_token)
                """, connection);
            var slash = record.ResourceId.IndexOf('/', StringComparison.Ordinal);
            upsert.Parameters.AddWithValue("resource", record.ResourceId);
            upsert.Parameters.AddWithValue("lock", record.LockId);
            upsert.Parameters.AddWithValue("root", slash < 0 ? record.ResourceId : record.ResourceId[..slash]);
            upsert.Parameters.AddWithValue("user", record.UserId);
            upsert.Parameters.AddWithValue("username", record.Username);
            upsert.Parameters.AddWithValue("role", record.Role);
            upsert.Parameters.AddWithValue("session", record.SessionId);
            upsert.Parameters.AddWithValue("acquired", PostgresAuditStore.Millis(record.AcquiredAt));
            upsert.Parameters.AddWithValue("expires", PostgresAuditStore.Millis(record.ExpiresAt));
            upsert.Parameters.AddWithValue("token", record.FencingToken);
            upsert.Parameters.AddWithValue("ttl", (long)record.Ttl.TotalMilliseconds);
            return await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task DeleteAsync(string resourceId, string lockId, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Locks, async connection =>
        {
            await using var delete = new NpgsqlCommand("DELETE FROM locks WHERE resource_id = @resource AND lock_id = @lock", connection);
            delete.Parameters.AddWithValue("resource", resourceId);
            delete.Parameters.AddWithValue("lock", lockId);
            return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
}
