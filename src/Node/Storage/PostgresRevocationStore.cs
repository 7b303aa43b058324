using CollabAkka.Web.Sessions;
using Npgsql;

namespace CollabAkka.Node.Storage;

/// <summary>Session revocations in PostgreSQL (<c>session_revocations</c>), shared by every node of a cluster.</summary>
public sealed class PostgresRevocationStore(PostgresDatabase database) : IRevocationStore
{
    public Task SaveAsync(string userId, DateTimeOffset notBefore, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Audit, async connection =>
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO session_revocations (user_id, not_before) VALUES (@user, @notBefore)
                ON CONFLICT (user_id) DO UPDATE SET not_before = GREATEST(session_revocations.not_before, excluded.not_before)
                """, connection);
            upsert.Parameters.AddWithValue("user", userId);
            upsert.Parameters.AddWithValue("notBefore", PostgresAuditStore.Millis(notBefore));
            return await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyDictionary<string, DateTimeOffset>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken) =>
        database.RunAsync<IReadOnlyDictionary<string, DateTimeOffset>>(PostgresCircuits.Audit, async connection =>
        {
            await using var select = new NpgsqlCommand("SELECT user_id, not_before FROM session_revocations WHERE not_before >= @since", connection);
            select.Parameters.AddWithValue("since", since);
            var result = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result[reader.GetString(0)] = reader.GetFieldValue<DateTimeOffset>(1);
            }
            return result;
        }, cancellationToken);

    public Task<int> PruneAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Audit, async connection =>
        {
            await using var delete = new NpgsqlCommand("DELETE FROM session_revocations WHERE not_before < @cutoff", connection);
            delete.Parameters.AddWithValue("cutoff", cutoff);
            return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
}
