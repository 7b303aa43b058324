using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>Document update log and snapshots in the embedded SQLite file.</summary>
public sealed class SqliteDocumentStore(SqliteDatabase database) : IDocumentStore
{
    public Task<AppendResult> AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, IReadOnlyList<AuditEvent?>? audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        DocumentAudit.Check(updates, audit);
        return database.WriteAsync(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            // BEGIN IMMEDIATE: no other writer runs until we commit, so these epochs stay current.
            var epochs = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var u in updates)
            {
                var root = StoreKeys.RootOf(u.ResourceId);
                if (!epochs.ContainsKey(root))
                {
                    epochs[root] = await SqliteEpochs.CurrentAsync(turn, tx, root, cancellationToken).ConfigureAwait(false);
                }
            }
            var insert = turn.Command("""
                INSERT INTO doc_updates (resource_id, revision, ts_ms, user_id, session_id, update_bytes)
                VALUES ($resource, $revision, $ts, $user, $session, $update)
                ON CONFLICT (resource_id, revision) DO NOTHING
                """, tx);
            var resource = insert.Parameters.Add("$resource", SqliteType.Text);
            var revision = insert.Parameters.Add("$revision", SqliteType.Integer);
            var ts = insert.Parameters.Add("$ts", SqliteType.Integer);
            var user = insert.Parameters.Add("$user", SqliteType.Text);
            var session = insert.Parameters.Add("$session", SqliteType.Text);
            var bytes = insert.Parameters.Add("$update", SqliteType.Blob);
            List<int>? refused = null;
            var audited = new List<AuditEvent>();
            for (var i = 0; i < updates.Count; i++)
            {
                var u = updates[i];
                var written = 0;
                if (epochs[StoreKeys.RootOf(u.ResourceId)] == u.Epoch)
                {
                    resource.Value = u.ResourceId;
                    revision.Value = u.Revision;
                    ts.Value = u.Timestamp.ToUnixTimeMilliseconds();
                    user.Value = u.UserId;
                    session.Value = u.SessionId;
                    bytes.Value = u.Update;
                    written = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                if (written == 0)
                {
                    (refused ??= []).Add(i);
                }
                else if (audit?[i] is { } record)
                {
                    audited.Add(record);
                }
            }
            await SqliteAuditStore.InsertAsync(turn, tx, audited, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return refused is null ? AppendResult.AllWritten : new AppendResult(refused);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<DocumentUpdateRecord>> ReadUpdatesAsync(string resourceId, long afterRevision, long? upToRevision, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard<IReadOnlyList<DocumentUpdateRecord>>(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            select.CommandText = """
                SELECT revision, ts_ms, user_id, session_id, update_bytes FROM doc_updates
                WHERE resource_id = $resource AND revision > $after AND revision <= $upTo ORDER BY revision
                """;
            select.Parameters.AddWithValue("$resource", resourceId);
            select.Parameters.AddWithValue("$after", afterRevision);
            select.Parameters.AddWithValue("$upTo", upToRevision ?? long.MaxValue);
            var result = new List<DocumentUpdateRecord>();
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new DocumentUpdateRecord(resourceId, reader.GetInt64(0), (byte[])reader.GetValue(4), reader.GetString(2),
                    reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1))));
            }
            return result;
        });

    public Task<StoreWrite> SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return database.WriteAsync(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            if (await SqliteEpochs.CurrentAsync(turn, tx, StoreKeys.RootOf(snapshot.ResourceId), cancellationToken).ConfigureAwait(false) != snapshot.Epoch)
            {
                return StoreWrite.Fenced;
            }
            var insert = turn.Command("""
                INSERT INTO doc_snapshots (resource_id, revision, ts_ms, state) VALUES ($resource, $revision, $ts, $state)
                ON CONFLICT (resource_id, revision) DO NOTHING
                """, tx);
            insert.Parameters.AddWithValue("$resource", snapshot.ResourceId);
            insert.Parameters.AddWithValue("$revision", snapshot.Revision);
            insert.Parameters.AddWithValue("$ts", snapshot.Timestamp.ToUnixTimeMilliseconds());
            insert.Parameters.AddWithValue("$state", snapshot.State);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return StoreWrite.Written;
        }, cancellationToken);
    }

    public Task<DocumentSnapshot?> LoadSnapshotAsync(string resourceId, long? atOrBeforeRevision, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            select.CommandText = """
                SELECT revision, ts_ms, state FROM doc_snapshots
                WHERE resource_id = $resource AND revision <= $upTo ORDER BY revision DESC LIMIT 1
                """;
            select.Parameters.AddWithValue("$resource", resourceId);
            select.Parameters.AddWithValue("$upTo", atOrBeforeRevision ?? long.MaxValue);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new DocumentSnapshot(resourceId, reader.GetInt64(0), (byte[])reader.GetValue(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)))
                : null;
        });

    public Task<IReadOnlyList<DocumentRevisionInfo>> ListRevisionsAsync(string resourceId, long afterRevision, int limit, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard<IReadOnlyList<DocumentRevisionInfo>>(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            select.CommandText = """
                SELECT revision, user_id, session_id, ts_ms, length(update_bytes) FROM doc_updates
                WHERE resource_id = $resource AND revision > $after ORDER BY revision LIMIT $limit
                """;
            select.Parameters.AddWithValue("$resource", resourceId);
            select.Parameters.AddWithValue("$after", afterRevision);
            select.Parameters.AddWithValue("$limit", limit);
            var result = new List<DocumentRevisionInfo>();
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new DocumentRevisionInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.GetInt32(4)));
            }
            return result;
        });

    public Task<long> GetLatestRevisionAsync(string resourceId, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT COALESCE(MAX(revision), 0) FROM doc_updates WHERE resource_id = $resource";
            select.Parameters.AddWithValue("$resource", resourceId);
            return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        });
}
