using CollabAkka.Messages.Entity;

namespace CollabAkka.Messages.Wire;

/// <summary>One user in one resource, as clients see it.</summary>
public sealed record PresenceUser(
    string UserId,
    string Username,
    string Role,
    string Mode,
    DateTimeOffset JoinedAt,
    string SessionId);

/// <summary>Payload of <c>user:joined</c> and <c>user:left</c>.</summary>
public sealed record UserPresencePayload(PresenceUser User, string? Reason, int UserCount) : IEventPayload;

/// <summary>Reasons of <c>user:left</c> and <c>lock:released</c> that clients and the node act on.</summary>
public static class PresenceReasons
{
    /// <summary>A reload of resources.yml took the role's right: the member was removed (or lost its lock).</summary>
    public const string PermissionRevoked = "permission_revoked";
}

/// <summary>Payload of <c>resource:all_users</c>: everyone across all children of one parent.</summary>
public sealed record AllUsersPayload(string ParentResourceId, int TotalCount, IReadOnlyList<SubResourceUsers> SubResources) : IEventPayload;

public sealed record SubResourceUsers(string SubResourceId, IReadOnlyList<PresenceUser> Users);

/// <summary>Data of a successful <c>resource:join</c>.</summary>
public sealed record JoinResult(
    string ResourceId,
    string ParentResourceId,
    string Mode,
    string RequestedMode,
    string? ModeReason,
    IReadOnlyList<PresenceUser> Users,
    long Revision,
    LockView? Lock,
    LockDenied? LockDenied,
    IReadOnlyList<LockView> Locks) : IReplyData;

/// <summary>Data of a successful <c>resource:leave</c>.</summary>
public sealed record LeaveResult(string ResourceId) : IReplyData;

/// <summary>Data of a <c>heartbeat</c> acknowledgement.</summary>
public sealed record HeartbeatAck(DateTimeOffset ServerTime, DateTimeOffset SessionExpiresAt);
