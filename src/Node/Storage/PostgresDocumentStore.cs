using CollabAkka.Entities.Resources;
using Npgsql;
using NpgsqlTypes;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Document update log and snapshots in PostgreSQL; same semantics as <see cref="SqliteDocumentStore"/>.
/// A batch is one <c>INSERT … unnest</c> statement: atomic (a duplicate (resource, revision) refuses all of it)
/// and one round trip, which is what group commit needs.
/// </summary>
public sealed class PostgresDocumentStore(PostgresDatabase database) : IDocumentStore
{
    public Task AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            return Task.CompletedTask;
        }
        var n = updates.Count;
        var resources = new string[n];
        var revisions = new long[n];
        var timestamps = new DateTimeOffset[n];
        var users = new string[n];
        var sessions = new string[n];
        var bytes = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var u = updates[i];
            (resources[i], revisions[i], timestamps[i], users[i], sessions[i], bytes[i]) =
                (u.ResourceId, u.Revision, PostgresAuditStore.Millis(u.Timestamp), u.UserId, u.SessionId, u.Update);
        }
        return database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO doc_updates (resource_id, revision, ts, user_id, session_id, update_bytes)
                SELECT * FROM unnest(@resource, @revision, @ts, @user, @session, @update)
                """, connection);
            insert.Parameters.Add(new NpgsqlParameter("resource", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = resources });
            insert.Parameters.Add(new NpgsqlParameter("revision", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = revisions });
            insert.Parameters.Add(new NpgsqlParameter("ts", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = timestamps });
            insert.Parameters.Add(new NpgsqlParameter("user", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = users });
            insert.Parameters.Add(new NpgsqlParameter("session", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = sessions });
            insert.Parameters.Add(new NpgsqlParameter("update", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = bytes });
            return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<DocumentUpdateRecord>> ReadUpdatesAsync(string resourceId, long afterRevision, long? upToRevision, CancellationToken cancellationToken) =>
        database.RunAsync<IReadOnlyList<DocumentUpdateRecord>>(PostgresCircuits.Documents, async connection =>
        {
            await using var select = new NpgsqlCommand("""
                SELECT revision, ts, user_id, session_id, update_bytes FROM doc_updates
                WHERE resource_id = @resource AND revision > @after AND revision <= @upTo ORDER BY revision
                """, connection);
            select.Parameters.AddWithValue("resource", resourceId);
            select.Parameters.AddWithValue("after", afterRevision);
            select.Parameters.AddWithValue("upTo", upToRevision ?? long.MaxValue);
            var result = new List<DocumentUpdateRecord>();
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new DocumentUpdateRecord(resourceId, reader.GetInt64(0), reader.GetFieldValue<byte[]>(4), reader.GetString(2),
                    reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(1)));
            }
            return result;
        }, cancellationToken);

    public Task SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO doc_snapshots (resource_id, revision, ts, state) VALUES (@resource, @revision, @ts, @state)
                ON CONFLICT (resource_id, revision) DO NOTHING
                """, connection);
            insert.Parameters.AddWithValue("resource", snapshot.ResourceId);
            insert.Parameters.AddWithValue("revision", snapshot.Revision);
            insert.Parameters.AddWithValue("ts", PostgresAuditStore.Millis(snapshot.Timestamp));
            insert.Parameters.AddWithValue("state", snapshot.State);
            return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<DocumentSnapshot?> LoadSnapshotAsync(string resourceId, long? atOrBeforeRevision, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            await using var select = new NpgsqlCommand("""
                SELECT revision, ts, state FROM doc_snapshots
                WHERE resource_id = @resource AND revision <= @upTo ORDER BY revision DESC LIMIT 1
                """, connection);
            select.Parameters.AddWithValue("resource", resourceId);
            select.Parameters.AddWithValue("upTo", atOrBeforeRevision ?? long.MaxValue);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new DocumentSnapshot(resourceId, reader.GetInt64(0), reader.GetFieldValue<byte[]>(2), reader.GetFieldValue<DateTimeOffset>(1))
                : null;
        }, cancellationToken);

    public Task<IReadOnlyList<DocumentRevisionInfo>> ListRevisionsAsync(string resourceId, long afterRevision, int limit, CancellationToken cancellationToken) =>
        database.RunAsync<IReadOnlyList<DocumentRevisionInfo>>(PostgresCircuits.Documents, async connection =>
        {
            await using var select = new NpgsqlCommand("""
                SELECT revision, user_id, session_id, ts, length(update_bytes) FROM doc_updates
                WHERE resource_id = @resource AND revision > @after ORDER BY revision LIMIT @limit
                """, connection);
            select.Parameters.AddWithValue("resource", resourceId);
            select.Parameters.AddWithValue("after", afterRevision);
            select.Parameters.AddWithValue("limit", limit);
            var result = new List<DocumentRevisionInfo>();
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new DocumentRevisionInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.GetInt32(4)));
            }
            return result;
        }, cancellationToken);

    public Task<long> GetLatestRevisionAsync(string resourceId, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            await using var select = new NpgsqlCommand("SELECT COALESCE(MAX(revision), 0) FROM doc_updates WHERE resource_id = @resource", connection);
            select.Parameters.AddWithValue("resource", resourceId);
            return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }, cancellationToken);
}
