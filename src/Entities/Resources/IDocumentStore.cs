using CollabAkka.Entities.Audit;

namespace CollabAkka.Entities.Resources;

/// <summary>One accepted document update: the Y.js v1 bytes and who sent them at which revision.</summary>
public sealed record DocumentUpdateRecord(
    string ResourceId,
    long Revision,
    byte[] Update,
    string UserId,
    string SessionId,
    DateTimeOffset Timestamp,
    long Epoch = 0);

/// <summary>The merged state of a document as of a revision (a Y.js v1 update holding the whole state).</summary>
public sealed record DocumentSnapshot(string ResourceId, long Revision, byte[] State, DateTimeOffset Timestamp, long Epoch = 0);

/// <summary>One line of a document's history (no content).</summary>
public sealed record DocumentRevisionInfo(long Revision, string UserId, string SessionId, DateTimeOffset Timestamp, int Bytes);

/// <summary>
/// What <see cref="IDocumentStore.AppendAsync"/> did not write: the positions (in the batch) of records refused because
/// their epoch is not their root's current one or their (resource, revision) already exists. Everything else was written.
/// </summary>
public sealed record AppendResult(IReadOnlyList<int> Refused)
{
    public static readonly AppendResult AllWritten = new([]);
}

/// <summary>
/// The update log and snapshots of documents. An update is acknowledged to its sender only after
/// <see cref="AppendAsync"/> returned with it written. Outages throw <see cref="StoreUnavailableException"/>;
/// a fenced or duplicate record is a value (<see cref="AppendResult.Refused"/>), never an exception, so one stale
/// writer cannot fail a whole node's batch.
/// </summary>
public interface IDocumentStore
{
    /// <summary>Appends a batch (possibly of several resources) in one transaction, record by record fenced by epoch; (resource, revision) is unique.</summary>
    Task<AppendResult> AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, CancellationToken cancellationToken) =>
        AppendAsync(updates, null, cancellationToken);

    /// <summary>
    /// Appends a batch as above; <paramref name="audit"/> (null, or one entry per update) holds each update's audit record
    /// (EDIT), written in the same transaction when, and only when, its update is written: an acknowledged edit never
    /// lacks its record, and a refused one leaves none.
    /// </summary>
    Task<AppendResult> AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, IReadOnlyList<AuditEvent?>? audit, CancellationToken cancellationToken);

    /// <summary>Updates with <paramref name="afterRevision"/> &lt; revision &lt;= <paramref name="upToRevision"/> (or all after), in order.</summary>
    Task<IReadOnlyList<DocumentUpdateRecord>> ReadUpdatesAsync(string resourceId, long afterRevision, long? upToRevision, CancellationToken cancellationToken);

    /// <summary>Stores a snapshot unless its epoch is stale (a second save of the same revision is ignored).</summary>
    Task<StoreWrite> SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken);

    /// <summary>The newest snapshot at or before <paramref name="atOrBeforeRevision"/> (or the newest of all).</summary>
    Task<DocumentSnapshot?> LoadSnapshotAsync(string resourceId, long? atOrBeforeRevision, CancellationToken cancellationToken);

    /// <summary>History, oldest first, keyset-paged by revision.</summary>
    Task<IReadOnlyList<DocumentRevisionInfo>> ListRevisionsAsync(string resourceId, long afterRevision, int limit, CancellationToken cancellationToken);

    /// <summary>The highest stored revision of a resource (0 when none).</summary>
    Task<long> GetLatestRevisionAsync(string resourceId, CancellationToken cancellationToken);
}

/// <summary>Argument checks shared by the document stores.</summary>
public static class DocumentAudit
{
    /// <summary>Throws unless <paramref name="audit"/> is null or has one entry per update.</summary>
    public static void Check(IReadOnlyList<DocumentUpdateRecord> updates, IReadOnlyList<AuditEvent?>? audit)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (audit is not null && audit.Count != updates.Count)
        {
            throw new ArgumentException($"{audit.Count} audit entries for {updates.Count} updates; give one per update (or none).", nameof(audit));
        }
    }
}
