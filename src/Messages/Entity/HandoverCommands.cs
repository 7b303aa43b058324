namespace CollabAkka.Messages.Entity;

/// <summary>
/// <c>lock:request</c>: a viewer asks the holder of <paramref name="Resource"/>'s lock to hand it over, with an optional
/// short <paramref name="Reason"/> (bounded by Collab:Entities:MaxLockRequestReasonLength).
/// </summary>
public sealed record RequestLock(ResourceId Resource, MemberInfo Member, string? Reason) : IEntityCommand;

/// <summary><c>lock:request-answer</c>: the holder hands the lock over (<paramref name="HandOver"/>) or declines.</summary>
public sealed record AnswerLockRequest(ResourceId Resource, MemberInfo Member, string LockRequestId, bool HandOver) : IEntityCommand;
