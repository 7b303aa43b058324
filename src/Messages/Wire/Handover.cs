using CollabAkka.Messages.Entity;

namespace CollabAkka.Messages.Wire;

/// <summary><c>lock:request</c>: ask the holder of the resource's lock for it; <c>reason</c> is optional and short.</summary>
public sealed record LockHandoverRequest(string? ResourceId, string? RequestId, string? Reason);

/// <summary><c>lock:request-answer</c>: the holder's answer, <c>"hand-over"</c> or <c>"decline"</c>.</summary>
public sealed record LockRequestAnswerRequest(string? ResourceId, string? RequestId, string? LockRequestId, string? Answer);

/// <summary>
/// A pending lock request: data of <c>lock:request</c>'s answer, payload of <c>lock:requested</c> (sent to the holder).
/// <c>autoPassAt</c>: when the lock passes to the requester by itself if the holder is idle until then.
/// </summary>
public sealed record LockRequestView(
    string LockRequestId,
    string ResourceId,
    LockHolder Requester,
    LockHolder Holder,
    string LockId,
    string? Reason,
    DateTimeOffset RequestedAt,
    DateTimeOffset AutoPassAt) : IReplyData, IEventPayload;

/// <summary>
/// Payload of <c>lock:handed-over</c> (to every member of the resource): the lock <c>previousLockId</c> of <c>from</c> ended
/// and <c>lock</c>, with a new fencing token, belongs to <c>to</c>. <c>automatic</c>: passed after the timeout, the holder idle.
/// Also the data of a <c>lock:request-answer</c> that handed over.
/// </summary>
public sealed record LockHandedOver(
    string LockRequestId,
    LockHolder From,
    LockHolder To,
    LockView Lock,
    string PreviousLockId,
    long PreviousFencingToken,
    bool Automatic) : IReplyData, IEventPayload;

/// <summary>
/// Payload of <c>lock:request-declined</c> (to the requester and the holder): the request ended without a hand-over.
/// <c>reason</c>: <c>declined</c> (the holder said no; <c>by</c> is the holder), <c>expired</c> (no answer in time and the holder
/// was not idle), <c>requester_left</c>, <c>lock_ended</c> (the lock was released or ended otherwise), <c>superseded</c> (the lock
/// went to someone else's request). Also the data of a <c>lock:request-answer</c> that declined.
/// </summary>
public sealed record LockRequestDeclined(
    string LockRequestId,
    string ResourceId,
    LockHolder Requester,
    LockHolder? By,
    string Reason,
    bool Expired) : IReplyData, IEventPayload;
