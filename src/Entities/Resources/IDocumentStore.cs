namespace CollabAkka.Entities.Resources;

/// <summary>One accepted document update: the Y.js v1 bytes and who sent them at which revision.</summary>
public sealed record DocumentUpdateRecord(
    string ResourceId,
    long Revision,
    byte[] Update,
    string UserId,
    string SessionId,
    DateTimeOffset Timestamp);

/// <summary>The merged state of a document as of a revision (a Y.js v1 update holding the whole state).</summary>
public sealed record DocumentSnapshot(string ResourceId, long Revision, byte[] State, DateTimeOffset Timestamp);

/// <summary>One line of a document's history (no content).</summary>
public sealed record DocumentRevisionInfo(long Revision, string UserId, string SessionId, DateTimeOffset Timestamp, int Bytes);

/// <summary>
/// The update log and snapshots of documents. An update is acknowledged to its sender only after
/// <see cref="AppendAsync"/> returned; implementations write a batch atomically. Failures throw
/// <see cref="StoreUnavailableException"/>.
/// </summary>
public interface IDocumentStore
{
    /// <summary>Appends a batch (possibly of several resources) in one transaction; (resource, revision) is unique.</summary>
    Task AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, CancellationToken cancellationToken);

    /// <summary>Updates with <paramref name="afterRevision"/> &lt; revision &lt;= <paramref name="upToRevision"/> (or all after), in order.</summary>
    Task<IReadOnlyList<DocumentUpdateRecord>> ReadUpdatesAsync(string resourceId, long afterRevision, long? upToRevision, CancellationToken cancellationToken);

    Task SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken);

    /// <summary>The newest snapshot at or before <paramref name="atOrBeforeRevision"/> (or the newest of all).</summary>
    Task<DocumentSnapshot?> LoadSnapshotAsync(string resourceId, long? atOrBeforeRevision, CancellationToken cancellationToken);

    /// <summary>History, oldest first, keyset-paged by revision.</summary>
    Task<IReadOnlyList<DocumentRevisionInfo>> ListRevisionsAsync(string resourceId, long afterRevision, int limit, CancellationToken cancellationToken);

    /// <summary>The highest stored revision of a resource (0 when none).</summary>
    Task<long> GetLatestRevisionAsync(string resourceId, CancellationToken cancellationToken);
}
