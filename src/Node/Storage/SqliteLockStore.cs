using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Locks, fencing tokens and root ownership in the embedded SQLite file. A claim is a <c>BEGIN IMMEDIATE</c>
/// transaction; a lock write is one statement that checks the epoch itself (SQLite runs one writer at a time, so the
/// epoch it reads is the one in force when it writes).
/// </summary>
public sealed class SqliteLockStore(SqliteDatabase database) : ILockStore
{
    public Task<EntityClaim> ClaimAsync(string rootResourceId, string nodeId, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            var claim = turn.Command("""
                INSERT INTO resource_epochs (root_id, epoch, owner_node, claimed_at_ms) VALUES ($root, 1, $node, $now)
                ON CONFLICT (root_id) DO UPDATE SET epoch = epoch + 1, owner_node = excluded.owner_node, claimed_at_ms = excluded.claimed_at_ms
                RETURNING epoch
                """, tx);
            claim.Parameters.AddWithValue("$root", rootResourceId);
            claim.Parameters.AddWithValue("$node", nodeId);
            claim.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var epoch = (long)(await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            var snapshot = await ReadAsync(turn.Connection, tx, rootResourceId, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new EntityClaim(epoch, snapshot);
        }, cancellationToken);

    public async Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await ReadAsync(connection, null, rootResourceId, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

    private static async Task<LockSnapshot> ReadAsync(SqliteConnection connection, SqliteTransaction? tx, string rootResourceId,
        CancellationToken cancellationToken)
    {
        var locks = new List<LockRecord>();
        var tokens = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = tx;
            select.CommandText = """
                SELECT resource_id, lock_id, user_id, username, role, session_id, acquired_at_ms, expires_at_ms, fencing_token, ttl_ms
                FROM locks WHERE root_id = $root
                """;
            select.Parameters.AddWithValue("$root", rootResourceId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                locks.Add(new LockRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4), reader.GetString(5),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
                    reader.GetInt64(8), TimeSpan.FromMilliseconds(reader.GetInt64(9))));
            }
        }
        await using (var select = connection.CreateCommand())
        {
            select.Transaction = tx;
            select.CommandText = "SELECT resource_id, last_token FROM fencing_tokens WHERE root_id = $root";
            select.Parameters.AddWithValue("$root", rootResourceId);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                tokens[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        return new LockSnapshot(locks, tokens);
    }

    public Task<StoreWrite> SaveAsync(LockRecord record, long epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return database.WriteAsync(async turn =>
        {
            // One autocommit statement: the row is written only while the root is still at this epoch, and a new lock
            // only with a token above the resource's last one (a renewal of an existing lock keeps its token). The
            // trigger locks_raise_fencing_token (migration 5) raises the last token in the same statement.
            var upsert = turn.Command("""
                INSERT INTO locks (resource_id, lock_id, root_id, user_id, username, role, session_id, acquired_at_ms, expires_at_ms, fencing_token, ttl_ms)
                SELECT $resource, $lock, $root, $user, $username, $role, $session, $acquired, $expires, $token, $ttl
                WHERE COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0) = $epoch
                  AND (EXISTS (SELECT 1 FROM locks WHERE resource_id = $resource AND lock_id = $lock)
                       OR $token > COALESCE((SELECT last_token FROM fencing_tokens WHERE resource_id = $resource), 0))
                ON CONFLICT (resource_id, lock_id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms, session_id = excluded.session_id
                """);
            upsert.Parameters.AddWithValue("$resource", record.ResourceId);
            upsert.Parameters.AddWithValue("$lock", record.LockId);
            upsert.Parameters.AddWithValue("$root", StoreKeys.RootOf(record.ResourceId));
            upsert.Parameters.AddWithValue("$user", record.UserId);
            upsert.Parameters.AddWithValue("$username", record.Username);
            upsert.Parameters.AddWithValue("$role", record.Role);
            upsert.Parameters.AddWithValue("$session", record.SessionId);
            upsert.Parameters.AddWithValue("$acquired", record.AcquiredAt.ToUnixTimeMilliseconds());
            upsert.Parameters.AddWithValue("$expires", record.ExpiresAt.ToUnixTimeMilliseconds());
            upsert.Parameters.AddWithValue("$token", record.FencingToken);
            upsert.Parameters.AddWithValue("$ttl", (long)record.Ttl.TotalMilliseconds);
            upsert.Parameters.AddWithValue("$epoch", epoch);
            return await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1 ? StoreWrite.Written : StoreWrite.Fenced;
        }, cancellationToken);
    }

    public Task<StoreWrite> DeleteAsync(string resourceId, string lockId, long epoch, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            var root = StoreKeys.RootOf(resourceId);
            // One autocommit statement, fenced by the epoch. Nothing deleted: either the epoch moved on (fenced) or the
            // lock was already gone (written: the outcome the caller wanted).
            var delete = turn.Command("""
                DELETE FROM locks WHERE resource_id = $resource AND lock_id = $lock
                  AND COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0) = $epoch
                """);
            delete.Parameters.AddWithValue("$resource", resourceId);
            delete.Parameters.AddWithValue("$lock", lockId);
            delete.Parameters.AddWithValue("$root", root);
            delete.Parameters.AddWithValue("$epoch", epoch);
            if (await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
            {
                return StoreWrite.Written;
            }
            return await SqliteEpochs.CurrentAsync(turn, null, root, cancellationToken).ConfigureAwait(false) == epoch
                ? StoreWrite.Written
                : StoreWrite.Fenced;
        }, cancellationToken);
}

/// <summary>Reads a root's current epoch inside a write (0 when never claimed).</summary>
internal static class SqliteEpochs
{
    public static async Task<long> CurrentAsync(SqliteDatabase.WriteTurn turn, SqliteTransaction? tx, string root, CancellationToken cancellationToken)
    {
        var select = turn.Command("SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0)", tx);
        select.Parameters.AddWithValue("$root", root);
        return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
