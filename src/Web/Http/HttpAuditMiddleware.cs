using System.Diagnostics;
using CollabAkka.Entities.Audit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

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

    private static void Record(HttpContext http, TimeSpan elapsed)
    {
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
        HttpAudit.Record(http, AuditEventTypes.HttpRequest, resourceId, new Dictionary<string, object?>
        {
            ["method"] = http.Request.Method,
            ["path"] = path,
            ["query"] = QueryWithoutSecrets(http.Request.Query),
            ["status"] = http.Response.StatusCode,
            ["durationMs"] = Math.Round(elapsed.TotalMilliseconds, 2),
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
