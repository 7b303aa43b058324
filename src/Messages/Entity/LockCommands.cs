namespace CollabAkka.Messages.Entity;

/// <summary>Take an editor lock on <paramref name="Resource"/>; <paramref name="TtlSeconds"/> may shorten the configured TTL.</summary>
public sealed record AcquireLock(ResourceId Resource, MemberInfo Member, double? TtlSeconds) : IRetrySafeCommand;

/// <summary>Give up the caller's lock.</summary>
public sealed record ReleaseLock(ResourceId Resource, MemberInfo Member) : IEntityCommand;

/// <summary>Renew the caller's lock for another TTL.</summary>
public sealed record RenewLock(ResourceId Resource, MemberInfo Member) : IRetrySafeCommand;

/// <summary>Release someone else's lock (roles with canForceRelease), with the reason the caller gives.</summary>
public sealed record ForceReleaseLock(ResourceId Resource, MemberInfo Member, string Reason, string? LockId) : IEntityCommand;
