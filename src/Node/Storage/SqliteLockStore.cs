using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>Locks and fencing tokens in the embedded SQLite file.</summary>
public sealed class SqliteLockStore(SqliteDatabase database) : ILockStore
{
    public async Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            var locks = new List<LockRecord>();
            var tokens = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var select = connection.CreateCommand())
            {
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
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

    public async Task SaveAsync(LockRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = connection.BeginTransaction(deferred: false);
            await using var upsert = connection.CreateCommand();
            upsert.Transaction = tx;
            upsert.CommandText = """
                INSERT INTO locks (resource_id, lock_id, root_id, user_id, username, role, session_id, acquired_at_ms, expires_at_ms, fencing_token, ttl_ms)
                VALUES ($resource, $lock, $root, $user, $username, $role, $session, $acquired, $expires, $token, $ttl)
                ON CONFLICT (resource_id, lock_id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms, session_id = excluded.session_id;
                INSERT INTO fencing_tokens (resource_id, root_id, last_token) VALUES ($resource, $root, $token)
                ON CONFLICT (resource_id) DO UPDATE SET last_token = MAX(last_token, excluded.last_token);
                """;
            var slash = record.ResourceId.IndexOf('/', StringComparison.Ordinal);
            upsert.Parameters.AddWithValue("$resource", record.ResourceId);
            upsert.Parameters.AddWithValue("$lock", record.LockId);
            upsert.Parameters.AddWithValue("$root", slash < 0 ? record.ResourceId : record.ResourceId[..slash]);
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
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

    public async Task DeleteAsync(string resourceId, string lockId, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM locks WHERE resource_id = $resource AND lock_id = $lock";
            delete.Parameters.AddWithValue("$resource", resourceId);
            delete.Parameters.AddWithValue("$lock", lockId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }
}
