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
/// Durable lock state. A grant is written before anyone hears of it, so a fencing token is never handed
/// out twice, even across restarts.
/// </summary>
public interface ILockStore
{
    Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken);

    /// <summary>Stores a new or renewed lock and raises the resource's last token to its token.</summary>
    Task SaveAsync(LockRecord record, CancellationToken cancellationToken);

    Task DeleteAsync(string resourceId, string lockId, CancellationToken cancellationToken);
}
