using CollabAkka.Entities.Resources;
using CollabAkka.Web.Sessions;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>Session revocations in the embedded SQLite file (<c>session_revocations</c>, unix milliseconds).</summary>
public sealed class SqliteRevocationStore(SqliteDatabase database) : IRevocationStore
{
    public Task SaveAsync(string userId, DateTimeOffset notBefore, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            var upsert = turn.Command("""
                INSERT INTO session_revocations (user_id, not_before_ms) VALUES ($user, $notBefore)
                ON CONFLICT (user_id) DO UPDATE SET not_before_ms = MAX(not_before_ms, excluded.not_before_ms)
                """);
            upsert.Parameters.AddWithValue("$user", userId);
            upsert.Parameters.AddWithValue("$notBefore", notBefore.ToUnixTimeMilliseconds());
            return await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyDictionary<string, DateTimeOffset>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard<IReadOnlyDictionary<string, DateTimeOffset>>(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT user_id, not_before_ms FROM session_revocations WHERE not_before_ms >= $since";
            select.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
            var result = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result[reader.GetString(0)] = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1));
            }
            return result;
        });

    public Task<int> PruneAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            var delete = turn.Command("DELETE FROM session_revocations WHERE not_before_ms < $cutoff");
            delete.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
}
