using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using Npgsql;
using NpgsqlTypes;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Document update log and snapshots in PostgreSQL; same semantics as <see cref="SqliteDocumentStore"/>.
/// A batch is one <c>INSERT … unnest</c> statement, fenced per record by its root's epoch: one round trip,
/// which is what group commit needs.
/// </summary>
public sealed class PostgresDocumentStore(PostgresDatabase database) : IDocumentStore
{
    public Task<AppendResult> AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, IReadOnlyList<AuditEvent?>? audit, CancellationToken cancellationToken)
    {
        DocumentAudit.Check(updates, audit);
        if (updates.Count == 0)
        {
            return Task.FromResult(AppendResult.AllWritten);
        }
        var n = updates.Count;
        var resources = new string[n];
        var roots = new string[n];
        var epochs = new long[n];
        var revisions = new long[n];
        var timestamps = new DateTimeOffset[n];
        var users = new string[n];
        var sessions = new string[n];
        var bytes = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var u = updates[i];
            (resources[i], roots[i], epochs[i], revisions[i], timestamps[i], users[i], sessions[i], bytes[i]) =
                (u.ResourceId, StoreKeys.RootOf(u.ResourceId), u.Epoch, u.Revision, PostgresAuditStore.Millis(u.Timestamp), u.UserId, u.SessionId, u.Update);
        }
        // Each update's audit record (EDIT) is inserted by the same statement, for the updates it wrote and no others.
        var records = new List<AuditEvent>();
        var recordOf = new List<long>(); // the 1-based position of each record's update
        for (var i = 0; audit is not null && i < n; i++)
        {
            if (audit[i] is { } record)
            {
                records.Add(record);
                recordOf.Add(i + 1);
            }
        }
        var audited = records.Count == 0 ? "" : $"""
            ,
            audited AS (
                {PostgresAuditStore.InsertColumns}
                SELECT a.ts, a.event_type, a.user_id, a.username, a.role, a.resource_id, a.session_id, a.node_id, a.ip, a.user_agent, a.correlation_id, a.details
                FROM {PostgresAuditStore.Unnest} WITH ORDINALITY
                    AS a(ts, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details, k)
                JOIN unnest(@a_of) WITH ORDINALITY AS o(idx, k) ON o.k = a.k
                WHERE o.idx IN (SELECT idx FROM done)
                ORDER BY a.k)
            """;
        return database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            // One statement: the batch's epoch rows are locked FOR SHARE (a concurrent claim waits until we commit),
            // a record is written only when its epoch is its root's current one, and a duplicate (resource, revision)
            // is skipped instead of failing the whole batch. What was written comes back; the rest is refused.
            await using var insert = new NpgsqlCommand("""
                WITH input AS (
                    SELECT * FROM unnest(@resource, @root, @epoch, @revision, @ts, @user, @session, @update) WITH ORDINALITY
                        AS t(resource_id, root_id, epoch, revision, ts, user_id, session_id, update_bytes, idx)),
                owners AS (
                    SELECT root_id, epoch FROM resource_epochs WHERE root_id = ANY (@root) FOR SHARE),
                eligible AS (
                    SELECT DISTINCT ON (i.resource_id, i.revision) i.*
                    FROM input i LEFT JOIN owners o ON o.root_id = i.root_id
                    WHERE COALESCE(o.epoch, 0) = i.epoch
                    ORDER BY i.resource_id, i.revision, i.idx),
                written AS (
                    INSERT INTO doc_updates (resource_id, revision, ts, user_id, session_id, update_bytes)
                    SELECT resource_id, revision, ts, user_id, session_id, update_bytes FROM eligible
                    ON CONFLICT (resource_id, revision) DO NOTHING
                    RETURNING resource_id, revision),
                done AS (
                    SELECT e.idx FROM eligible e JOIN written w ON w.resource_id = e.resource_id AND w.revision = e.revision)
                """ + audited + """

                SELECT idx FROM done
                """, connection);
            if (records.Count > 0)
            {
                PostgresAuditStore.AddArrays(insert, records);
                insert.Parameters.Add(new NpgsqlParameter("a_of", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = recordOf.ToArray() });
            }
            insert.Parameters.Add(new NpgsqlParameter("resource", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = resources });
            insert.Parameters.Add(new NpgsqlParameter("root", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = roots });
            insert.Parameters.Add(new NpgsqlParameter("epoch", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = epochs });
            insert.Parameters.Add(new NpgsqlParameter("revision", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = revisions });
            insert.Parameters.Add(new NpgsqlParameter("ts", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = timestamps });
            insert.Parameters.Add(new NpgsqlParameter("user", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = users });
            insert.Parameters.Add(new NpgsqlParameter("session", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = sessions });
            insert.Parameters.Add(new NpgsqlParameter("update", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = bytes });
            var written = new HashSet<long>();
            await using (var reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    written.Add(reader.GetInt64(0)); // 1-based position in the batch
                }
            }
            if (written.Count == n)
            {
                return AppendResult.AllWritten;
            }
            var refused = new List<int>();
            for (var i = 0; i < n; i++)
            {
                if (!written.Contains(i + 1))
                {
                    refused.Add(i);
                }
            }
            return new AppendResult(refused);
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

    public Task<StoreWrite> SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return database.RunAsync(PostgresCircuits.Documents, async connection =>
        {
            await using var insert = new NpgsqlCommand("""
                WITH owner AS (SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = @root FOR SHARE), 0) AS epoch),
                saved AS (
                    INSERT INTO doc_snapshots (resource_id, revision, ts, state)
                    SELECT @resource, @revision, @ts, @state WHERE (SELECT epoch FROM owner) = @epoch
                    ON CONFLICT (resource_id, revision) DO NOTHING RETURNING 1)
                SELECT (SELECT epoch FROM owner), (SELECT COUNT(*) FROM saved)
                """, connection);
            insert.Parameters.AddWithValue("resource", snapshot.ResourceId);
            insert.Parameters.AddWithValue("root", StoreKeys.RootOf(snapshot.ResourceId));
            insert.Parameters.AddWithValue("epoch", snapshot.Epoch);
            insert.Parameters.AddWithValue("revision", snapshot.Revision);
            insert.Parameters.AddWithValue("ts", PostgresAuditStore.Millis(snapshot.Timestamp));
            insert.Parameters.AddWithValue("state", snapshot.State);
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return reader.GetInt64(0) == snapshot.Epoch ? StoreWrite.Written : StoreWrite.Fenced;
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
