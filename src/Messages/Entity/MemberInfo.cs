namespace CollabAkka.Messages.Entity;

/// <summary>Who a connection is: enough for an entity to decide and to tell others.</summary>
public sealed record MemberInfo(
    string ConnectionId,
    string SessionId,
    string UserId,
    string Username,
    string Role,
    string NodeId,
    string? Ip,
    string? UserAgent);

public enum JoinMode
{
    Viewer,
    Editor,
}
