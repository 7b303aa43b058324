namespace CollabAkka.Messages.Entity;

/// <summary>
/// Join <paramref name="Resource"/> (a root or one of its children). Retry-safe: a second copy of the same request
/// (same connection and correlation id) is answered like the first, not refused as ALREADY_JOINED.
/// </summary>
public sealed record JoinResource(ResourceId Resource, MemberInfo Member, JoinMode RequestedMode) : IRetrySafeCommand;

/// <summary>Leave <paramref name="Resource"/> on request of the member.</summary>
public sealed record LeaveResource(ResourceId Resource, string ConnectionId) : IEntityCommand;

/// <summary>The connection is gone (closed, swept or aborted): remove it from every resource of the root.</summary>
public sealed record DisconnectMember(string ConnectionId, string Reason) : IRetrySafeCommand;

/// <summary>Read the users and revision of one resource, or of the whole family when it is a root.</summary>
public sealed record GetResourceState(ResourceId Resource) : IEntityQuery;

/// <summary>A node left the cluster (or was downed): every connection it held is gone from this family.</summary>
public sealed record DisconnectNode(string NodeId, string Reason) : IEntityCommand;
