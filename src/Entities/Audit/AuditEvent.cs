using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Audit;

/// <summary>
/// One audit record: who did what, to which resource, when, from where. Never carries document
/// content or other patient data; <see cref="Details"/> holds names, counts and reasons only.
/// </summary>
public sealed record AuditEvent
{
    public required string EventType { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public string? UserId { get; init; }
    public string? Username { get; init; }
    public string? Role { get; init; }
    public string? ResourceId { get; init; }
    public string? SessionId { get; init; }
    public string? NodeId { get; init; }
    public string? Ip { get; init; }
    public string? UserAgent { get; init; }
    public string? CorrelationId { get; init; }
    public IReadOnlyDictionary<string, object?>? Details { get; init; }

    /// <summary>An event caused by a connected member (who, from where, which session).</summary>
    public static AuditEvent For(MemberInfo member, string eventType, DateTimeOffset timestamp, string? resourceId = null,
        string? correlationId = null, IReadOnlyDictionary<string, object?>? details = null)
    {
        ArgumentNullException.ThrowIfNull(member);
        return new AuditEvent
        {
            EventType = eventType,
            Timestamp = timestamp,
            UserId = member.UserId,
            Username = member.Username,
            Role = member.Role,
            ResourceId = resourceId,
            SessionId = member.SessionId,
            NodeId = member.NodeId,
            Ip = member.Ip,
            UserAgent = member.UserAgent,
            CorrelationId = correlationId,
            Details = details,
        };
    }
}

/// <summary>Audit event types.</summary>
public static class AuditEventTypes
{
    public const string Connect = "CONNECT";
    public const string Disconnect = "DISCONNECT";
    public const string ConnectionRejected = "CONNECTION_REJECTED";
    public const string Join = "JOIN";
    public const string Leave = "LEAVE";
    public const string SessionExpired = "SESSION_EXPIRED";
    public const string HttpRequest = "HTTP_REQUEST";
    public const string AuditQueried = "AUDIT_QUERIED";
    public const string AuditExported = "AUDIT_EXPORTED";
    public const string AuditPurged = "AUDIT_PURGED";
    public const string JoinDenied = "JOIN_DENIED";
    public const string ResourceReadDenied = "RESOURCE_READ_DENIED";
    public const string WebhookReceived = "WEBHOOK_RECEIVED";
    public const string WebhookRejected = "WEBHOOK_REJECTED";
    public const string SessionsRevoked = "SESSIONS_REVOKED";
    public const string ResourceTypesReloaded = "RESOURCE_TYPES_RELOADED";
    public const string ResourceTypesReloadRefused = "RESOURCE_TYPES_RELOAD_REFUSED";
}
