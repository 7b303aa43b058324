using System.Text.Json.Serialization;

namespace CollabAkka.Messages.Wire;

/// <summary>The answer to every hub invocation.</summary>
public sealed record ApiResponse
{
    public required bool Success { get; init; }
    public string? RequestId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public object? Data { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiError? Error { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? NewRevision { get; init; }
    public required DateTimeOffset Timestamp { get; init; }

    public static ApiResponse Ok(string? requestId, DateTimeOffset now, object? data = null, long? newRevision = null) =>
        new() { Success = true, RequestId = requestId, Data = data, NewRevision = newRevision, Timestamp = now };

    public static ApiResponse Fail(string? requestId, DateTimeOffset now, ApiError error) =>
        new() { Success = false, RequestId = requestId, Error = error, Timestamp = now };
}

/// <summary>A refusal: a stable code from <see cref="ErrorCodes"/>, a sentence for people, optional details.</summary>
public sealed record ApiError(
    string Code,
    string Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? Details = null);

/// <summary>A server-to-client event about a resource.</summary>
public sealed record ApiBroadcast(
    string Event,
    string ResourceId,
    object Payload,
    TriggeredBy? TriggeredBy,
    long NewRevision,
    DateTimeOffset Timestamp);

/// <summary>Who caused a broadcast.</summary>
public sealed record TriggeredBy(string UserId, string Username, string Action);

/// <summary>
/// The node is about to close this connection. <c>reason</c>: <c>node_shutdown</c> (a graceful leave or rolling restart):
/// reconnect after <c>reconnectAfterMs</c> (0: at once, without backoff; a load balancer sends you to another node),
/// rejoin, resync and re-send what was not acknowledged; <c>sessions_revoked</c> (an administrator ended this user's
/// sessions): reconnect only with a token issued after the revocation.
/// </summary>
public sealed record ConnectionClosingEvent(string Reason, int ReconnectAfterMs);

/// <summary>Sent once to a new connection.</summary>
public sealed record ConnectedEvent(
    string SessionId,
    string UserId,
    string Username,
    string Role,
    DateTimeOffset ServerTime,
    string NodeId,
    double SessionTtlSeconds,
    double HeartbeatIntervalSeconds);
