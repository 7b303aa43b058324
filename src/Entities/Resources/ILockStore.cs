namespace CollabAkka.Entities.Resources;

/// <summary>A lock as stored: enough to restore it, with its remaining TTL, after a restart.</summary>
public sealed record LockRecord(
    string ResourceId,
    string LockId,
    string UserId,
    string Username,
    string Role,
    string SessionId,
    DateTimeOffset AcquiredAt,
    DateTimeOffset ExpiresAt,
    long FencingToken,
    TimeSpan Ttl);

/// <summary>Every lock and the last fencing token of every resource of one root.</summary>
public sealed record LockSnapshot(IReadOnlyList<LockRecord> Locks, IReadOnlyDictionary<string, long> LastTokens);

/// <summary>
/// What an entity gets when it takes ownership of its root: a new incarnation epoch, larger than every earlier one
/// of that root, and the locks as they are now.
/// </summary>
public sealed record EntityClaim(long Epoch, LockSnapshot Locks);

/// <summary>The outcome of a fenced write: written, or refused because a newer incarnation owns the root.</summary>
public enum StoreWrite
{
    Written,

    /// <summary>
    /// Refused: the root's epoch in the store is not the writer's (a newer incarnation claimed it), or the write would
    /// reuse a fencing token or a revision. Nothing was changed. The writer must stop, not retry.
    /// </summary>
    Fenced,
}

/// <summary>
/// Durable lock state and root ownership. A grant is written before anyone hears of it, so a fencing token is never
/// handed out twice, even across restarts and moves. Every write carries the writer's epoch and is refused
/// (<see cref="StoreWrite.Fenced"/>) when it is not the root's current one: a paused or partitioned former owner
/// cannot write after a newer incarnation claimed the root. Epoch 0 means "never claimed" (tools and tests).
/// </summary>
public interface ILockStore
{
    /// <summary>One atomic write: epoch = epoch + 1 for <paramref name="rootResourceId"/>, owned by <paramref name="nodeId"/>; returns it with the locks.</summary>
    Task<EntityClaim> ClaimAsync(string rootResourceId, string nodeId, CancellationToken cancellationToken);

    /// <summary>Reads the locks and tokens of a root without claiming it.</summary>
    Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new or renewed lock and raises the resource's last token to its token. A new lock whose token is not
    /// above the resource's last token is refused, as is any write with a stale epoch.
    /// </summary>
    Task<StoreWrite> SaveAsync(LockRecord record, long epoch, CancellationToken cancellationToken);

    Task<StoreWrite> DeleteAsync(string resourceId, string lockId, long epoch, CancellationToken cancellationToken);
}

/// <summary>Root ids from resource ids, as the stores key ownership.</summary>
public static class StoreKeys
{
    public static string RootOf(string resourceId)
    {
        ArgumentNullException.ThrowIfNull(resourceId);
        var slash = resourceId.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? resourceId : resourceId[..slash];
    }
}
