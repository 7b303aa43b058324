using System.Security.Claims;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Web.Http;

/// <summary>Audit events caused by an HTTP request: who (token claims, if any), from where, which request.</summary>
public static class HttpAudit
{
    public const string CorrelationHeader = "X-Correlation-Id";

    public static AuditEvent Create(HttpContext http, string eventType, string? resourceId, IReadOnlyDictionary<string, object?>? details)
    {
        ArgumentNullException.ThrowIfNull(http);
        var services = http.RequestServices;
        var user = http.User;
        return new AuditEvent
        {
            EventType = eventType,
            Timestamp = services.GetRequiredKeyedService<TimeProvider>(CollabTime.Key).GetUtcNow(),
            UserId = user.FindFirst("sub")?.Value ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value,
            Username = user.FindFirst("name")?.Value,
            Role = user.FindFirst("role")?.Value,
            ResourceId = resourceId,
            NodeId = services.GetRequiredService<NodeIdentity>().NodeId,
            Ip = http.Connection.RemoteIpAddress?.ToString(),
            UserAgent = UserAgentOf(http),
            CorrelationId = CorrelationIdOf(http),
            Details = details,
        };
    }

    /// <summary>Records the event on the node's audit sink.</summary>
    public static void Record(HttpContext http, string eventType, string? resourceId, IReadOnlyDictionary<string, object?>? details) =>
        http.RequestServices.GetRequiredService<IAuditSink>().Record(Create(http, eventType, resourceId, details));

    public static string? UserAgentOf(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua[..Math.Min(ua.Length, 512)] : null;

    /// <summary>The caller's <c>X-Correlation-Id</c> when sane, else the request's trace id.</summary>
    public static string CorrelationIdOf(HttpContext http) =>
        http.Request.Headers[CorrelationHeader].ToString() is { Length: > 0 and <= 128 } id ? id : http.TraceIdentifier;
}
