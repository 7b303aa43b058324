using System.Diagnostics;
using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Http;

/// <summary>
/// Records every HTTP operation on the API (<c>/api/**</c>, <c>/cluster/**</c>, <c>/dev/token</c>) as an
/// <c>HTTP_REQUEST</c> audit event after it completed: who (from the token), method, path, status, duration,
/// from where. Probes, metrics, the hub (audited as CONNECT/DISCONNECT) and static files are not recorded.
/// Endpoints that audit their own access in more detail (the audit API) mark the request and are skipped,
/// unless they were refused before running (401/403), which is recorded here.
/// Outsiders cannot grow the trail (issue 12 item 6): requests without a valid token are rate-limited per IP
/// (429 RATE_LIMITED) and only <see cref="SecurityOptions.UnauthenticatedAuditPerWindow"/> of them per window
/// are recorded node-wide (the next recorded one says how many were left out); paths and queries are cut to
/// <see cref="SecurityOptions.MaxLoggedPathLength"/> / <see cref="SecurityOptions.MaxLoggedQueryLength"/> and
/// never hold a token.
/// </summary>
public static class HttpAuditMiddleware
{
    public static IApplicationBuilder UseCollabHttpAudit(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path;
            if (!(path.StartsWithSegments("/api") || path.StartsWithSegments("/cluster") || path.StartsWithSegments("/dev/token")))
            {
                await next(http).ConfigureAwait(false);
                return;
            }
            var guard = http.RequestServices.GetRequiredService<UnauthenticatedGuard>();
            // /dev/token exists only with dev tokens, which only run on loopback (NodeHardening): not an outsider's door.
            // Webhook deliveries authenticate by signature and are rate-limited per source by the receiver itself, which
            // also puts its unsigned refusals through this guard (WebhookEndpoints.Refuse).
            var authenticated = http.User.Identity?.IsAuthenticated == true || path.StartsWithSegments("/dev/token") ||
                                path.StartsWithSegments("/api/webhooks");
            var started = Stopwatch.GetTimestamp();
            try
            {
                if (!authenticated && !guard.TryAcquire(http.Connection.RemoteIpAddress))
                {
                    http.Response.Headers.RetryAfter = "1";
                    await Problems.WriteAsync(http, StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited,
                        $"Too many requests without a valid token from this address (Collab:Security:UnauthenticatedRequestsPerIpPerSecond is {guard.Options.UnauthenticatedRequestsPerIpPerSecond}).")
                        .ConfigureAwait(false);
                    return;
                }
                await next(http).ConfigureAwait(false);
            }
            finally
            {
                if (!http.Items.ContainsKey(AuditEndpoints.AuditedItem))
                {
                    Record(http, Stopwatch.GetElapsedTime(started), authenticated, guard);
                }
            }
        });

    /// <summary>A query as it may be logged or audited: <c>access_token</c> redacted, cut to the configured length.</summary>
    public static string? SafeQuery(HttpContext http) =>
        LogRedaction.Query(http.Request.Query, http.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.MaxLoggedQueryLength);

    private static void Record(HttpContext http, TimeSpan elapsed, bool authenticated, UnauthenticatedGuard guard)
    {
        int suppressed = 0;
        if (!authenticated)
        {
            if (guard.Audit.TryPass("http", DateTimeOffset.UtcNow) is not { } passed)
            {
                return;
            }
            suppressed = passed;
        }
        var o = guard.Options;
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
            resourceId = LogRedaction.Cut(resourceId, Messages.ResourceId.MaxLength);
        }
        var details = new Dictionary<string, object?>
        {
            ["method"] = LogRedaction.Cut(http.Request.Method, 16),
            ["path"] = LogRedaction.Cut(LogRedaction.Redact(path), o.MaxLoggedPathLength),
            ["query"] = LogRedaction.Query(http.Request.Query, o.MaxLoggedQueryLength),
            ["status"] = http.Response.StatusCode,
            ["durationMs"] = Math.Round(elapsed.TotalMilliseconds, 2),
        };
        if (suppressed > 0)
        {
            details["suppressed"] = suppressed; // unauthenticated requests left out of the trail since the previous record
        }
        HttpAudit.Record(http, AuditEventTypes.HttpRequest, resourceId, details);
    }
}
