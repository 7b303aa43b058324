using CollabAkka.Messages.Entity;

namespace CollabAkka.Messages.Wire;

/// <summary><c>lock:acquire</c>.</summary>
public sealed record AcquireLockRequest(string? ResourceId, string? RequestId, double? TtlSeconds);

/// <summary><c>lock:release</c> and <c>lock:heartbeat</c>.</summary>
public sealed record LockRequest(string? ResourceId, string? RequestId);

/// <summary><c>lock:force-release</c>.</summary>
public sealed record ForceReleaseRequest(string? ResourceId, string? RequestId, string? Reason, string? LockId);

public sealed record LockHolder(string UserId, string Username);

/// <summary>A lock as clients see it (data of lock answers; payload of <c>lock:*</c> events).</summary>
public sealed record LockView(
    string LockId,
    string ResourceId,
    LockHolder Holder,
    DateTimeOffset AcquiredAt,
    DateTimeOffset ExpiresAt,
    long FencingToken,
    double TtlSeconds) : IReplyData, IEventPayload;

/// <summary>Payload of <c>lock:released</c> and <c>lock:expired</c>.</summary>
public sealed record LockEndedPayload(
    string LockId,
    LockHolder Holder,
    long FencingToken,
    string Reason,
    LockHolder? ReleasedBy,
    string? Comment) : IEventPayload;

/// <summary>Why an editor join became a viewer join, and who holds the lock until when.</summary>
public sealed record LockDenied(string Code, string Message, LockHolder? Holder, DateTimeOffset? ExpiresAt);

/// <summary>Payload of <c>state:changed</c>.</summary>
public sealed record StateChangedPayload(string PreviousState, string State, int LockCount) : IEventPayload;

/// <summary>Details of a LOCK_HELD / MAX_EDITORS_REACHED refusal.</summary>
public sealed record LockHeldDetails(LockHolder Holder, DateTimeOffset ExpiresAt, int MaxConcurrentEditors, IReadOnlyList<LockHolder> Holders) : IErrorDetails;

/// <summary>Data of a successful <c>lock:release</c>.</summary>
public sealed record LockReleasedResult(string LockId, string ResourceId, bool Released) : IReplyData;

/// <summary>Data of a successful <c>lock:force-release</c>: the locks it ended.</summary>
public sealed record ForceReleaseResult(string ResourceId, IReadOnlyList<LockView> Released) : IReplyData;

/// <summary>Details of MAX_VIEWERS_REACHED.</summary>
public sealed record MaxViewersDetails(int MaxViewers) : IErrorDetails;
