using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Web.Webhooks;

// POST /api/webhooks/resource-updated (spec 000, "External API Integration"). Checks, in this order, each refusal an
// RFC 7807 problem with our code and a `reason`, and a WEBHOOK_REJECTED audit record:
//   source     X-Source names a configured source (or a bearer token with the webhook role)  401 UNAUTHORIZED unknown_source
//   address    the caller's IP is in the source's AllowedIPs (when it has any)               403 PERMISSION_DENIED ip_not_allowed
//   size       the body is at most MaxBodyBytes                                             413 PAYLOAD_TOO_LARGE body_too_large
//   time       X-Timestamp (unix seconds) is within ReplayWindow of the node's clock        401 UNAUTHORIZED stale_timestamp
//   signature  X-Signature = sha256=hex(HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")), any of the secrets
//                                                                                          401 UNAUTHORIZED bad_signature
//   rate       RequestsPerMinute per source (sliding window)                                429 RATE_LIMITED + Retry-After
//   payload    the specification's fields                                                   400 VALIDATION_FAILED invalid_payload
//   replay     same delivery id or same signature within ReplayWindow: not broadcast again, answered as the first
//              time (200, header Webhook-Replayed: true), audited as WEBHOOK_REJECTED reason replay.
// An accepted delivery goes to the resource's entity (NotifyResourceUpdated), which sends resource:updated to the
// connections joined to it (the whole family for a root id); WEBHOOK_RECEIVED records source, resource, action, size
// and recipients, never `data`.
public static class WebhookEndpoints
{
    public const string Path = "/api/webhooks/resource-updated";
    public const string SourceHeader = "X-Source";
    public const string TimestampHeader = "X-Timestamp";
    public const string SignatureHeader = "X-Signature";
    public const string DeliveryHeader = "X-Delivery-Id";
    public const string ReplayedHeader = "Webhook-Replayed";
    public static readonly IReadOnlyList<string> Actions = ["created", "updated", "deleted", "signed"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IServiceCollection AddCollabWebhooks(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var options = new WebhookOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection("Collab:Webhooks"), options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<WebhookState>();
        return services;
    }

    public static IEndpointRouteBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, (Delegate)ReceiveAsync)
            .WithName("ReceiveResourceUpdated")
            .WithSummary("An external system reports that a resource changed; joined clients get resource:updated.")
            .Produces<WebhookAccepted>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .Accepts<WebhookPayload>("application/json");
        return app;
    }

    private static async Task<IResult> ReceiveAsync(HttpContext http)
    {
        http.Items[AuditEndpoints.AuditedItem] = true; // audited here, in detail
        var options = http.RequestServices.GetRequiredService<WebhookOptions>();
        var state = http.RequestServices.GetRequiredService<WebhookState>();
        var time = http.RequestServices.GetRequiredKeyedService<TimeProvider>(CollabTime.Key);
        var headerSource = http.Request.Headers[SourceHeader].ToString();

        // Source: a configured name (HMAC), or a token with the webhook role.
        var viaToken = options.JwtRole.Length > 0 && http.User.Identity?.IsAuthenticated == true &&
                       http.User.FindFirst("role")?.Value == options.JwtRole && http.User.FindFirst("sub")?.Value is { Length: > 0 };
        var source = viaToken ? http.User.FindFirst("sub")!.Value : headerSource;
        WebhookSourceOptions? configured = null;
        if (!viaToken && (source.Length is 0 or > 64 || !options.Sources.TryGetValue(source, out configured)))
        {
            return Refuse(http, source, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "unknown_source",
                $"{SourceHeader} must name a source configured in Collab:Webhooks:Sources (or send a bearer token with role '{options.JwtRole}').");
        }
        if (configured is not null && !configured.Allows(http.Connection.RemoteIpAddress))
        {
            return Refuse(http, source, StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "ip_not_allowed",
                $"Source '{source}' may not call from this address (Collab:Webhooks:Sources:{source}:AllowedIPs).");
        }

        // Body, bounded.
        if (http.Request.ContentLength > options.MaxBodyBytes)
        {
            return Refuse(http, source, StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, "body_too_large",
                $"The body is larger than {options.MaxBodyBytes} bytes (Collab:Webhooks:MaxBodyBytes).");
        }
        var body = await ReadBodyAsync(http, options.MaxBodyBytes).ConfigureAwait(false);
        if (body is null)
        {
            return Refuse(http, source, StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, "body_too_large",
                $"The body is larger than {options.MaxBodyBytes} bytes (Collab:Webhooks:MaxBodyBytes).");
        }

        // Timestamp and signature (HMAC sources).
        var signature = http.Request.Headers[SignatureHeader].ToString();
        if (configured is not null)
        {
            var timestampText = http.Request.Headers[TimestampHeader].ToString();
            if (!long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out var unix) || timestampText.Length > 12)
            {
                return Refuse(http, source, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "stale_timestamp",
                    $"{TimestampHeader} (unix seconds) is required.");
            }
            var skew = Math.Abs(time.GetUtcNow().ToUnixTimeSeconds() - unix);
            if (skew > options.ReplayWindow.TotalSeconds)
            {
                return Refuse(http, source, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "stale_timestamp",
                    $"{TimestampHeader} is {skew} s from the node's clock; at most {options.ReplayWindow.TotalSeconds} s are accepted (Collab:Webhooks:ReplayWindow).");
            }
            if (!SignatureMatches(configured, timestampText, body, signature))
            {
                return Refuse(http, source, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "bad_signature",
                    $"{SignatureHeader} must be sha256=<hex of HMAC-SHA256(secret, \"<{TimestampHeader}>.<raw body>\")> with a secret of source '{source}'.");
            }
        }

        // Rate per source.
        using (var lease = state.Limiter.AttemptAcquire(source))
        {
            if (!lease.IsAcquired)
            {
                var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(10);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return Refuse(http, source, StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "rate_limited",
                    $"Source '{source}' sent more than {options.RequestsPerMinute} deliveries in a minute (Collab:Webhooks:RequestsPerMinute); retry after {seconds} s.");
            }
        }

        // Payload.
        WebhookPayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<WebhookPayload>(body, Json);
        }
        catch (JsonException ex)
        {
            return Refuse(http, source, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "invalid_payload", $"The body is not valid JSON: {ex.Message}");
        }
        if (Validate(payload, source, viaToken, out var resourceId, out var why) is false)
        {
            return Refuse(http, source, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "invalid_payload", why);
        }
        var deliveryId = http.Request.Headers[DeliveryHeader].ToString() is { Length: > 0 and <= 128 } header ? header
            : payload!.DeliveryId is { Length: > 0 and <= 128 } own ? own
            : Convert.ToHexStringLower(SHA256.HashData(body))[..32];

        // Replay: the first delivery's answer, once.
        var keys = new List<string> { $"{source}\nid\n{deliveryId}" };
        if (signature.Length > 0)
        {
            keys.Add($"{source}\nsig\n{signature}");
        }
        var (first, isNew) = state.Remember(keys, time.GetUtcNow() + options.ReplayWindow, options.MaxRememberedDeliveries);
        if (!isNew)
        {
            var earlier = await first.Task.ConfigureAwait(false);
            Audit(http, AuditEventTypes.WebhookRejected, source, resourceId.Value, new Dictionary<string, object?>
            {
                ["reason"] = "replay", ["deliveryId"] = deliveryId, ["action"] = payload!.Action,
            });
            if (earlier is null)
            {
                return Problems.Result(http, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, "The first delivery with this id failed; send it again.");
            }
            http.Response.Headers[ReplayedHeader] = "true";
            return Results.Json(earlier);
        }

        var updated = new ResourceUpdatedPayload(resourceId.Value, resourceId.Type, payload!.Action!, payload.Data is { } data ? RawJson.From(data) : null,
            payload.Timestamp!.Value, source, deliveryId);
        var router = http.RequestServices.GetRequiredService<IEntityRouter>();
        EntityReply reply;
        try
        {
            reply = await router.SendAsync(new EntityEnvelope(resourceId, HttpAudit.CorrelationIdOf(http),
                new NotifyResourceUpdated(resourceId, updated, new TriggeredBy(source, source, "webhook"))), http.RequestAborted).ConfigureAwait(false);
        }
        catch
        {
            state.Forget(keys, first);
            throw;
        }
        if (reply.Error is { } error || reply.Data is not ResourceUpdatedResult result)
        {
            state.Forget(keys, first);
            return Problems.Result(http, StatusCodes.Status503ServiceUnavailable, reply.Error?.Code ?? ErrorCodes.Unavailable,
                reply.Error?.Message ?? "The resource could not be notified.");
        }
        var accepted = new WebhookAccepted("broadcasted", result.Recipients, resourceId.Value, deliveryId);
        WebhookState.Complete(first, accepted);
        Audit(http, AuditEventTypes.WebhookReceived, source, resourceId.Value, new Dictionary<string, object?>
        {
            ["action"] = updated.Action,
            ["resourceType"] = updated.ResourceType,
            ["deliveryId"] = deliveryId,
            ["bytes"] = body.Length,
            ["recipients"] = result.Recipients,
            ["auth"] = viaToken ? "jwt" : "hmac",
        });
        return Results.Json(accepted);
    }

    internal static string Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    private static bool SignatureMatches(WebhookSourceOptions source, string timestamp, byte[] body, string signature)
    {
        var given = Encoding.ASCII.GetBytes(signature.Trim().ToLowerInvariant());
        var matched = false;
        foreach (var secret in source.Secrets)
        {
            // Every secret is compared in constant time, so timing says neither which secret nor how much matched.
            matched |= CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(secret, timestamp, body)), given);
        }
        return matched;
    }

    private static bool Validate(WebhookPayload? payload, string source, bool viaToken, out ResourceId resourceId, out string why)
    {
        resourceId = default;
        why = "";
        if (payload is null)
        {
            why = "The body must be a JSON object.";
            return false;
        }
        if (payload.Action is null || !Actions.Contains(payload.Action))
        {
            why = $"action must be one of {string.Join(", ", Actions)}.";
            return false;
        }
        if (payload.Timestamp is null)
        {
            why = "timestamp (ISO 8601) is required.";
            return false;
        }
        if (payload.Source is { } claimed && !viaToken && claimed != source)
        {
            why = $"source '{claimed}' does not match the {SourceHeader} header.";
            return false;
        }
        var text = payload.ResourceId is { } id && !id.Contains(':', StringComparison.Ordinal) && payload.ResourceType is { Length: > 0 } type
            ? $"{type}:{id}"
            : payload.ResourceId;
        if (!ResourceId.TryParse(text, out resourceId, out var error))
        {
            why = $"resourceId: {error}";
            return false;
        }
        if (payload.ResourceType is { Length: > 0 } t && t != resourceId.Type)
        {
            why = $"resourceType '{t}' does not match resourceId '{resourceId.Value}'.";
            return false;
        }
        return true;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext http, int max)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static IResult Refuse(HttpContext http, string source, int status, string code, string reason, string message)
    {
        // A refusal before the signature held (or of it) is an outsider's request: the per-IP guard of unauthenticated
        // traffic bounds how many of them run and reach the audit trail.
        if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden or StatusCodes.Status413PayloadTooLarge &&
            http.User.Identity?.IsAuthenticated != true &&
            http.RequestServices.GetService<Security.UnauthenticatedGuard>() is { } guard && !guard.TryAcquire(http.Connection.RemoteIpAddress))
        {
            http.Response.Headers.RetryAfter = "1";
            return Problems.Result(http, StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited,
                "Too many refused webhook requests from this address (Collab:Security:UnauthenticatedRequestsPerIpPerSecond).");
        }
        Audit(http, AuditEventTypes.WebhookRejected, source.Length is > 0 and <= 64 ? source : null, null, new Dictionary<string, object?>
        {
            ["reason"] = reason, ["code"] = code, ["status"] = status, ["bytes"] = http.Request.ContentLength,
        });
        return Problems.Result(http, status, code, message, new { reason });
    }

    private static void Audit(HttpContext http, string type, string? source, string? resourceId, Dictionary<string, object?> details)
    {
        var e = HttpAudit.Create(http, type, resourceId, details);
        http.RequestServices.GetRequiredService<IAuditSink>().Record(e with { UserId = e.UserId ?? source, Username = e.Username ?? source, Role = e.Role ?? "webhook" });
    }
}

/// <summary>Per-node webhook state: the per-source rate limiter and the deliveries remembered for replay protection.</summary>
internal sealed class WebhookState : IDisposable
{
    private readonly ConcurrentDictionary<string, (TaskCompletionSource<WebhookAccepted?> First, DateTimeOffset Until)> _seen = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public WebhookState(WebhookOptions options, [FromKeyedServices(CollabTime.Key)] TimeProvider time)
    {
        _time = time;
        Limiter = PartitionedRateLimiter.Create<string, string>(source => RateLimitPartition.GetSlidingWindowLimiter(source, _ =>
            new SlidingWindowRateLimiterOptions
            {
                PermitLimit = options.RequestsPerMinute,
                Window = TimeSpan.FromMinutes(1),
                SegmentsPerWindow = 12,
                QueueLimit = 0,
                AutoReplenishment = true,
            }), StringComparer.Ordinal);
    }

    public PartitionedRateLimiter<string> Limiter { get; }

    /// <summary>The first delivery under any of <paramref name="keys"/>, or a new one (isNew) registered under all of them.</summary>
    public (TaskCompletionSource<WebhookAccepted?> First, bool IsNew) Remember(IReadOnlyList<string> keys, DateTimeOffset until, int max)
    {
        var now = _time.GetUtcNow();
        if (_seen.Count >= max)
        {
            foreach (var (key, entry) in _seen)
            {
                if (entry.Until <= now)
                {
                    _seen.TryRemove(key, out _);
                }
            }
        }
        var mine = new TaskCompletionSource<WebhookAccepted?>(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var key in keys)
        {
            var entry = _seen.AddOrUpdate(key, (mine, until), (_, old) => old.Until <= now ? (mine, until) : old);
            if (entry.First != mine)
            {
                Forget(keys, mine);
                return (entry.First, false);
            }
        }
        return (mine, true);
    }

    public static void Complete(TaskCompletionSource<WebhookAccepted?> first, WebhookAccepted accepted) => first.TrySetResult(accepted);

    /// <summary>The delivery failed: later copies are answered UNAVAILABLE while they wait, then may try again.</summary>
    public void Forget(IReadOnlyList<string> keys, TaskCompletionSource<WebhookAccepted?> first)
    {
        foreach (var key in keys)
        {
            if (_seen.TryGetValue(key, out var entry) && entry.First == first)
            {
                _seen.TryRemove(KeyValuePair.Create(key, entry));
            }
        }
        first.TrySetResult(null);
    }

    public void Dispose() => Limiter.Dispose();
}
