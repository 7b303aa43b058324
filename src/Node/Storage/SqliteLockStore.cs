using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Locks, fencing tokens and root ownership in the embedded SQLite file. Writes run in <c>BEGIN IMMEDIATE</c>
/// transactions, which SQLite serializes, so the epoch read at their start is still current when they commit.
/// </summary>
public sealed class SqliteLockStore(SqliteDatabase database) : ILockStore
{
    public async Task<EntityClaim> ClaimAsync(string rootResourceId, string nodeId, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = connection.BeginTransaction(deferred: false);
            await using var claim = connection.CreateCommand();
            claim.Transaction = tx;
            claim.CommandText = """
                INSERT INTO resource_epochs (root_id, epoch, owner_node, claimed_at_ms) VALUES ($root, 1, $node, $now)
                ON CONFLICT (root_id) DO UPDATE SET epoch = epoch + 1, owner_node = excluded.owner_node, claimed_at_ms = excluded.claimed_at_ms
                RETURNING epoch
                """;
            claim.Parameters.AddWithValue("$root", rootResourceId);
            claim.Parameters.AddWithValue("$node", nodeId);
            claim.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var epoch = (long)(await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            var snapshot = await ReadAsync(connection, tx, rootResourceId, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new EntityClaim(epoch, snapshot);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

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

    public async Task<StoreWrite> SaveAsync(LockRecord record, long epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = connection.BeginTransaction(deferred: false);
            var root = StoreKeys.RootOf(record.ResourceId);
            await using var check = connection.CreateCommand();
            check.Transaction = tx;
            // Current epoch, whether this lock exists already (a renewal), and the resource's last token.
            check.CommandText = """
                SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0),
                       EXISTS (SELECT 1 FROM locks WHERE resource_id = $resource AND lock_id = $lock),
                       COALESCE((SELECT last_token FROM fencing_tokens WHERE resource_id = $resource), 0)
                """;
            check.Parameters.AddWithValue("$root", root);
            check.Parameters.AddWithValue("$resource", record.ResourceId);
            check.Parameters.AddWithValue("$lock", record.LockId);
            await using (var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var current = reader.GetInt64(0);
                var exists = reader.GetInt64(1) != 0;
                var lastToken = reader.GetInt64(2);
                if (current != epoch || (!exists && record.FencingToken <= lastToken))
                {
                    return StoreWrite.Fenced;
                }
            }
            await using var upsert = connection.CreateCommand();
            upsert.Transaction = tx;
            upsert.CommandText = """
                INSERT INTO locks (resource_id, lock_id, root_id, user_id, username, role, session_id, acquired_at_ms, expires_at_ms, fencing_token, ttl_ms)
                VALUES ($resource, $lock, $root, $user, $username, $role, $session, $acquired, $expires, $token, $ttl)
                ON CONFLICT (resource_id, lock_id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms, session_id = excluded.session_id;
                INSERT INTO fencing_tokens (resource_id, root_id, last_token) VALUES ($resource, $root, $token)
                ON CONFLICT (resource_id) DO UPDATE SET last_token = MAX(last_token, excluded.last_token);
                """;
            upsert.Parameters.AddWithValue("$resource", record.ResourceId);
            upsert.Parameters.AddWithValue("$lock", record.LockId);
            upsert.Parameters.AddWithValue("$root", root);
            upsert.Parameters.AddWithValue("$user", record.UserId);
            upsert.Parameters.AddWithValue("$username", record.Username);
            upsert.Parameters.AddWithValue("$role", record.Role);
            upsert.Parameters.AddWithValue("$session", record.SessionId);
            upsert.Parameters.AddWithValue("$acquired", record.AcquiredAt.ToUnixTimeMilliseconds());
            upsert.Parameters.AddWithValue("$expires", record.ExpiresAt.ToUnixTimeMilliseconds());
            upsert.Parameters.AddWithValue("$token", record.FencingToken);
            upsert.Parameters.AddWithValue("$ttl", (long)record.Ttl.TotalMilliseconds);
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return StoreWrite.Written;
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

    public async Task<StoreWrite> DeleteAsync(string resourceId, string lockId, long epoch, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = connection.BeginTransaction(deferred: false);
            if (await SqliteEpochs.CurrentAsync(connection, tx, StoreKeys.RootOf(resourceId), cancellationToken).ConfigureAwait(false) != epoch)
            {
                return StoreWrite.Fenced;
            }
            await using var delete = connection.CreateCommand();
            delete.Transaction = tx;
            delete.CommandText = "DELETE FROM locks WHERE resource_id = $resource AND lock_id = $lock";
            delete.Parameters.AddWithValue("$resource", resourceId);
            delete.Parameters.AddWithValue("$lock", lockId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return StoreWrite.Written;
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }
}

/// <summary>Reads a root's current epoch inside a write transaction (0 when never claimed).</summary>
internal static class SqliteEpochs
{
    public static async Task<long> CurrentAsync(SqliteConnection connection, SqliteTransaction tx, string root, CancellationToken cancellationToken)
    {
        await using var select = connection.CreateCommand();
        select.Transaction = tx;
        select.CommandText = "SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0)";
        select.Parameters.AddWithValue("$root", root);
        return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
