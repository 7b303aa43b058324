namespace CollabAkka.Messages.Wire;

/// <summary><c>resource:join</c>. Mode is <c>editor</c> or <c>viewer</c> (default viewer).</summary>
public sealed record JoinRequest(string? ResourceId, string? Mode, string? RequestId);

/// <summary><c>resource:leave</c>.</summary>
public sealed record LeaveRequest(string? ResourceId, string? RequestId);

/// <summary><c>heartbeat</c>; the body is optional.</summary>
public sealed record HeartbeatRequest(string? RequestId);
