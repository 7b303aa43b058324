using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Web.Authorization;
using CollabAkka.Yjs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Http;

/// <summary>
/// <c>GET /api/resources/{id}</c> (entity state, operators), <c>/api/resources/{id}/content?revision=N</c> and
/// <c>/api/resources/{id}/history</c> (historical playback, history roles, audited). Resource ids contain '/',
/// so one catch-all route dispatches on the last segment; a resource id segment always holds ':', so
/// "content" and "history" cannot be mistaken for one.
/// </summary>
public static class DocumentEndpoints
{
    public const int MaxHistoryPage = 1000;

    public static IEndpointRouteBuilder MapDocumentEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/resources/{**path}", (string path, HttpContext http) =>
        {
            if (path.EndsWith("/content", StringComparison.Ordinal))
            {
                return ContentAsync(http, path[..^"/content".Length]);
            }
            if (path.EndsWith("/history", StringComparison.Ordinal))
            {
                return HistoryAsync(http, path[..^"/history".Length]);
            }
            return StateAsync(http, path);
        }).RequireAuthorization();
        return app;
    }

    private static async Task<IResult> StateAsync(HttpContext http, string id)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<CollabHttpOptions>>().Value;
        if (!HasRole(http.User, options.OperatorRoles))
        {
            return Problems.Result(http, StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "Reading entity state needs an operator role (Collab:Http:OperatorRoles).");
        }
        if (!ResourceId.TryParse(id, out var resourceId, out var error))
        {
            return Problems.Result(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, error);
        }
        if (await CheckReadAsync(http, resourceId, "state").ConfigureAwait(false) is { } denied)
        {
            return denied;
        }
        var router = http.RequestServices.GetRequiredService<IEntityRouter>();
        var reply = await router.SendAsync(new EntityEnvelope(resourceId, http.TraceIdentifier, new GetResourceState(resourceId)), http.RequestAborted)
            .ConfigureAwait(false);
        return Reply(http, reply);
    }

    private static async Task<IResult> ContentAsync(HttpContext http, string id)
    {
        if (Authorize(http, id, "content", out var resourceId) is { } refused)
        {
            return refused;
        }
        if (await CheckReadAsync(http, resourceId, "content").ConfigureAwait(false) is { } denied)
        {
            return denied;
        }
        var revisionText = http.Request.Query["revision"].ToString();
        if (revisionText.Length == 0)
        {
            var router = http.RequestServices.GetRequiredService<IEntityRouter>();
            var reply = await router.SendAsync(new EntityEnvelope(resourceId, http.TraceIdentifier, new GetDocumentContent(resourceId)), http.RequestAborted)
                .ConfigureAwait(false);
            return Reply(http, reply);
        }
        if (!long.TryParse(revisionText, NumberStyles.None, CultureInfo.InvariantCulture, out var revision))
        {
            return Problems.Result(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "revision must be a non-negative integer.");
        }
        var store = http.RequestServices.GetRequiredService<IDocumentStore>();
        try
        {
            var latest = await store.GetLatestRevisionAsync(resourceId.Value, http.RequestAborted).ConfigureAwait(false);
            if (revision > latest)
            {
                return Problems.Result(http, StatusCodes.Status404NotFound, ErrorCodes.NotFound,
                    $"{resourceId.Value} has no revision {revision} (latest stored: {latest}).", new { latest });
            }
            var doc = new YDoc(maxDepth: http.RequestServices.GetRequiredService<IOptions<DocumentOptions>>().Value.MaxNestingDepth);
            var snapshot = await store.LoadSnapshotAsync(resourceId.Value, revision, http.RequestAborted).ConfigureAwait(false);
            var from = 0L;
            if (snapshot is not null)
            {
                doc.ApplyUpdate(snapshot.State);
                from = snapshot.Revision;
            }
            foreach (var update in await store.ReadUpdatesAsync(resourceId.Value, from, revision, http.RequestAborted).ConfigureAwait(false))
            {
                doc.ApplyUpdate(update.Update);
            }
            return Results.Json(new
            {
                resourceId = resourceId.Value,
                revision,
                content = doc.ToJsonElement(),
            });
        }
        catch (StoreUnavailableException ex)
        {
            return Problems.Result(http, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, ex.Message);
        }
    }

    private static async Task<IResult> HistoryAsync(HttpContext http, string id)
    {
        if (Authorize(http, id, "history", out var resourceId) is { } refused)
        {
            return refused;
        }
        if (await CheckReadAsync(http, resourceId, "history").ConfigureAwait(false) is { } denied)
        {
            return denied;
        }
        var after = long.TryParse(http.Request.Query["after"], NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? a : 0;
        var limit = int.TryParse(http.Request.Query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, MaxHistoryPage) : 100;
        var store = http.RequestServices.GetRequiredService<IDocumentStore>();
        try
        {
            var revisions = await store.ListRevisionsAsync(resourceId.Value, after, limit, http.RequestAborted).ConfigureAwait(false);
            return Results.Json(new
            {
                resourceId = resourceId.Value,
                revisions,
                next = revisions.Count == limit ? revisions[^1].Revision : (long?)null,
            });
        }
        catch (StoreUnavailableException ex)
        {
            return Problems.Result(http, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, ex.Message);
        }
    }

    /// <summary>History roles only; every read (allowed or not) is audited.</summary>
    private static IResult? Authorize(HttpContext http, string id, string what, out ResourceId resourceId)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<CollabHttpOptions>>().Value;
        var allowed = HasRole(http.User, options.HistoryRoles);
        var valid = ResourceId.TryParse(id, out resourceId, out var error);
        HttpAudit.Record(http, allowed ? "HISTORY_READ" : "HISTORY_READ_DENIED", valid ? resourceId.Value : null,
            new Dictionary<string, object?> { ["what"] = what, ["query"] = HttpAuditMiddleware.SafeQuery(http) });
        if (!allowed)
        {
            return Problems.Result(http, StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied,
                "Reading document history needs a history role (Collab:Http:HistoryRoles).");
        }
        return valid ? null : Problems.Result(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, error!);
    }

    /// <summary>canView for the caller's role (resources.yml) and the host's authorizer, like a hub join.</summary>
    private static async Task<IResult?> CheckReadAsync(HttpContext http, ResourceId resourceId, string what)
    {
        var guard = http.RequestServices.GetRequiredService<ResourceReadGuard>();
        var userId = http.User.FindFirst("sub")?.Value ?? "";
        var role = http.User.FindFirst("role")?.Value ?? "";
        var decision = await guard.CheckAsync(http.User, userId, role, resourceId, http.RequestAborted).ConfigureAwait(false);
        if (decision.Allowed)
        {
            return null;
        }
        HttpAudit.Record(http, AuditEventTypes.ResourceReadDenied, resourceId.Value,
            new Dictionary<string, object?> { ["what"] = what, ["code"] = decision.Code });
        var status = decision.Code switch
        {
            ErrorCodes.Unavailable => StatusCodes.Status503ServiceUnavailable,
            ErrorCodes.ValidationFailed => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status403Forbidden,
        };
        return Problems.Result(http, status, decision.Code ?? ErrorCodes.PermissionDenied, decision.Reason ?? "Access refused.");
    }

    private static bool HasRole(ClaimsPrincipal user, string[] roles) =>
        user.FindFirst("role")?.Value is { } role && roles.Contains(role, StringComparer.Ordinal);

    private static IResult Reply(HttpContext http, EntityReply reply) => reply.Error is { } e
        ? Problems.Result(http, e.Code == ErrorCodes.ValidationFailed ? StatusCodes.Status400BadRequest : StatusCodes.Status503ServiceUnavailable, e.Code, e.Message)
        : Results.Json((object?)reply.Data); // the runtime type, not the IReplyData interface
}
