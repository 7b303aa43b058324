using System.Diagnostics;
using System.Security.Claims;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Web.Http;

/// <summary>
/// Records every HTTP operation on the API (<c>/api/**</c>, <c>/cluster/**</c>, <c>/dev/token</c>) as an
/// <c>HTTP_REQUEST</c> audit event after it completed: who (from the token), method, path, status, duration,
/// from where. Probes, metrics, the hub (audited as CONNECT/DISCONNECT) and static files are not recorded.
/// Endpoints that audit their own access in more detail (the audit API) mark the request and are skipped,
/// unless they were refused before running (401/403), which is recorded here.
/// </summary>
public static class HttpAuditMiddleware
{
    public const string CorrelationHeader = "X-Correlation-Id";

    public static IApplicationBuilder UseCollabHttpAudit(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path;
            if (!(path.StartsWithSegments("/api") || path.StartsWithSegments("/cluster") || path.StartsWithSegments("/dev/token")))
            {
                await next(http).ConfigureAwait(false);
                return;
            }
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(http).ConfigureAwait(false);
            }
            finally
            {
                if (!http.Items.ContainsKey(AuditEndpoints.AuditedItem))
                {
                    Record(http, Stopwatch.GetElapsedTime(started));
                }
            }
        });

    internal static string? UserAgentOf(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua[..Math.Min(ua.Length, 512)] : null;

    internal static string CorrelationIdOf(HttpContext http) =>
        http.Request.Headers[CorrelationHeader].ToString() is { Length: > 0 and <= 128 } id ? id : http.TraceIdentifier;

    private static void Record(HttpContext http, TimeSpan elapsed)
    {
        var services = http.RequestServices;
        var user = http.User;
        var path = http.Request.Path.Value ?? "";
        const string resources = "/api/resources/";
        string? resourceId = null;
        if (path.StartsWith(resources, StringComparison.Ordinal))
        {
            resourceId = path[resources.Length..];
            foreach (var suffix in (string[])["/content", "/history"])
            {
                if (resourceId.EndsWith(suffix, StringComparison.Ordinal))
                {
                    resourceId = resourceId[..^suffix.Length];
                }
            }
        }
        services.GetRequiredService<IAuditSink>().Record(new AuditEvent
        {
            EventType = AuditEventTypes.HttpRequest,
            Timestamp = services.GetRequiredKeyedService<TimeProvider>(CollabTime.Key).GetUtcNow(),
            UserId = user.FindFirst("sub")?.Value ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value,
            Username = user.FindFirst("name")?.Value,
            Role = user.FindFirst("role")?.Value,
            ResourceId = resourceId,
            NodeId = services.GetRequiredService<NodeIdentity>().NodeId,
            Ip = http.Connection.RemoteIpAddress?.ToString(),
            UserAgent = UserAgentOf(http),
            CorrelationId = CorrelationIdOf(http),
            Details = new Dictionary<string, object?>
            {
                ["method"] = http.Request.Method,
                ["path"] = path,
                ["query"] = QueryWithoutSecrets(http.Request.Query),
                ["status"] = http.Response.StatusCode,
                ["durationMs"] = Math.Round(elapsed.TotalMilliseconds, 2),
            },
        });
    }

    private static string? QueryWithoutSecrets(IQueryCollection query)
    {
        if (query.Count == 0)
        {
            return null;
        }
        return string.Join('&', query
            .Where(p => !p.Key.Equals("access_token", StringComparison.OrdinalIgnoreCase))
            .Select(p => $"{p.Key}={p.Value}"));
    }
}
