using System.Reflection;
using System.Text.Json;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Web.Auth;
using CollabAkka.Web.Hubs;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Http;

/// <summary>The node's HTTP surface: probes, capabilities, statistics, entity state, dev tokens, the hub.</summary>
public static class CollabEndpoints
{
    public const string OperatorPolicy = "operator";
    public const int ProtocolVersion = 1;

    public static readonly string ProductVersion =
        typeof(CollabEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private static readonly string[] SigningAlgorithms = ["RS256"];
    private static readonly string[] HubProtocols = ["json", "messagepack"];


    public static IEndpointRouteBuilder MapCollab(this IEndpointRouteBuilder app, bool devTokens)
    {
        var startedAt = DateTimeOffset.UtcNow;
        // A connection ends when its token expires (issue 12 item 9); the client reconnects with a fresh token.
        app.MapHub<CollabHub>(AuthSetup.HubPath, o => o.CloseOnAuthenticationExpiration = true);

        app.MapGet("/health", (NodeIdentity node, [FromKeyedServices(CollabTime.Key)] TimeProvider time) => Results.Json(new
        {
            status = "healthy",
            nodeId = node.NodeId,
            version = ProductVersion,
            uptimeSeconds = Math.Round((DateTimeOffset.UtcNow - startedAt).TotalSeconds, 1),
            time = time.GetUtcNow(),
        }));

        // A route handler (not MapHealthChecks) so the OpenAPI document lists it.
        app.MapGet("/ready", async (HttpContext http, HealthCheckService health) =>
        {
            var report = await health.CheckHealthAsync(http.RequestAborted).ConfigureAwait(false);
            http.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            http.Response.Headers.CacheControl = "no-store, no-cache";
            await WriteReadiness(http, report).ConfigureAwait(false);
        }).WithSummary("Readiness: every dependency (store, audit buffer, circuit breakers) with its latency; 503 when not ready.");
        app.MapGet("/asyncapi.json", () => Results.Text(WireDocuments.AsyncApi().ToJsonString(), "application/json"))
            .WithSummary("AsyncAPI 3.0 document of the hub, generated from the message records.");

        app.MapWidget(devTokens);
        app.MapGet("/metrics", (PrometheusExporter exporter) =>
            Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet("/api/capabilities", Capabilities);
        app.MapGet("/api/stats", Stats);

        app.MapDocumentEndpoints();
        Web.Webhooks.WebhookEndpoints.MapWebhooks(app);
        app.MapAuditEndpoints();

        if (devTokens)
        {
            app.MapPost("/dev/token", async (HttpContext http, DevTokenIssuer issuer) =>
            {
                DevTokenRequest? body;
                try
                {
                    body = await http.Request.ReadFromJsonAsync<DevTokenRequest>(http.RequestAborted).ConfigureAwait(false);
                }
                catch (JsonException ex)
                {
                    return Problems.Result(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, $"Body is not valid JSON: {ex.Message}");
                }
                if (body is null || !IsName(body.UserId) || !IsName(body.Role) || string.IsNullOrWhiteSpace(body.Username) || body.Username.Length > 128)
                {
                    return Problems.Result(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed,
                        "userId and role (1-64 of A-Z a-z 0-9 . _ - @) and username (1-128 characters) are required.");
                }
                var (token, expiresAt) = issuer.Issue(body.UserId!, body.Username!, body.Role!);
                return Results.Json(new { token, expiresAt });
            });
        }
        return app;
    }

    public static IServiceCollection AddCollabOperatorPolicy(this IServiceCollection services, CollabHttpOptions options) =>
        services.AddAuthorizationBuilder()
            .AddPolicy(OperatorPolicy, p => p.RequireAuthenticatedUser().RequireClaim("role", options.OperatorRoles))
            .Services;

    private static bool IsName(string? s) =>
        !string.IsNullOrEmpty(s) && s.Length <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@');

    private sealed record DevTokenRequest(string? UserId, string? Username, string? Role);

    private static IResult Capabilities(ResourceCatalogHolder catalogs, NodeIdentity node, IOptions<ConnectionOptions> connections, HttpContext http)
    {
        var catalog = catalogs.Current;
        var c = connections.Value;
        var devTokens = http.RequestServices.GetService<DevTokenIssuer>();
        object Describe(string name, ResourcePolicy p, ResourceTypeSettings settings, bool sub) => new
        {
            type = name,
            displayName = p.DisplayName,
            maxConcurrentEditors = p.MaxConcurrentEditors,
            maxViewers = p.MaxViewers,
            lockTTL = p.LockTtl.TotalSeconds,
            heartbeatInterval = p.HeartbeatInterval.TotalSeconds,
            gracePeriod = p.GracePeriod.TotalSeconds,
            lockRequestTimeout = p.RequestTimeout.TotalSeconds,
            independentLocks = sub ? p.IndependentLocks : (bool?)null,
            roles = p.Roles,
            subResources = settings.SubTypes.Select(s =>
                Describe(s.Key, catalog.Resolve(ResourceId.Parse($"{name}:x/{s.Key}:x"))!, s.Value, sub: true)).ToList(),
        };
        return Results.Json(new
        {
            product = "CollabAkka",
            version = ProductVersion,
            protocolVersion = ProtocolVersion,
            nodeId = node.NodeId,
            // protocol: the default (what the widget speaks); protocols: every SignalR hub protocol the node accepts.
            hub = new { path = AuthSetup.HubPath, protocol = "json", protocols = HubProtocols, methods = MethodNames.All, events = EventNames.All },
            errorCodes = ErrorCodes.All,
            auth = new { algorithms = SigningAlgorithms, devTokens = devTokens is not null, tokenQueryParameter = "access_token" },
            limits = new
            {
                maxConnectionsPerUser = c.MaxConnectionsPerUser,
                sessionTtlSeconds = c.SessionTtl.TotalSeconds,
                heartbeatIntervalSeconds = c.HeartbeatInterval.TotalSeconds,
                invocationsPerSecond = c.InvocationsPerSecond,
                invocationBurst = c.InvocationBurst,
                maxMessageBytes = c.MaxMessageBytes,
                maxResourceIdLength = ResourceId.MaxLength,
                maxRequestIdLength = c.MaxRequestIdLength,
                staleAfterSeconds = c.StaleAfter.TotalSeconds,
                maxLockRequestReasonLength = EntitySettings(http).MaxLockRequestReasonLength,
                maxLockRequestsPerResource = EntitySettings(http).MaxLockRequestsPerResource,
            },
            security = http.RequestServices.GetService<Security.SecurityCapabilities>(),
            allowUnknownResourceTypes = catalog.AllowUnknownTypes,
            resourcesFile = Path.GetFileName(catalog.Source),
            // The content hash of the resources.yml in force on this node, and since when (start-up or the last reload).
            resourceTypesVersion = catalog.Version,
            resourceTypesLoadedAt = catalogs.LoadedAt,
            defaults = new
            {
                maxConcurrentEditors = catalog.Defaults.MaxConcurrentEditors ?? ResourceCatalog.DefaultMaxConcurrentEditors,
                maxViewers = catalog.Defaults.MaxViewers,
                lockTTL = (catalog.Defaults.LockTtl ?? ResourceCatalog.DefaultLockTtl).TotalSeconds,
                heartbeatInterval = (catalog.Defaults.HeartbeatInterval ?? ResourceCatalog.DefaultHeartbeatInterval).TotalSeconds,
                gracePeriod = (catalog.Defaults.GracePeriod ?? ResourceCatalog.DefaultGracePeriod).TotalSeconds,
                lockRequestTimeout = (catalog.Defaults.LockRequestTimeout ?? ResourceCatalog.DefaultLockRequestTimeout).TotalSeconds,
                roles = catalog.Roles,
            },
            resourceTypes = catalog.Types.Select(t => Describe(t.Key, catalog.Resolve(ResourceId.Parse($"{t.Key}:x"))!, t.Value, sub: false)).ToList(),
            roles = catalog.AllRoles,
            authorization = DescribeAuthorization(http.RequestServices.GetRequiredService<Web.Authorization.ResourceAuthorizationOptions>()),
            webhooks = DescribeWebhooks(http.RequestServices.GetRequiredService<Web.Webhooks.WebhookOptions>()),
            circuitBreakers = http.RequestServices.GetRequiredService<Entities.Resources.IStoreCircuits>().Circuits.Select(c => new { name = c.Name, state = c.State }).ToList(),
        });
    }

    private static Entities.Resources.EntityOptions EntitySettings(HttpContext http) =>
        http.RequestServices.GetService<IOptions<Entities.Resources.EntityOptions>>()?.Value ?? new Entities.Resources.EntityOptions();

    private static object DescribeAuthorization(Web.Authorization.ResourceAuthorizationOptions o) => new
    {
        mode = o.Mode,
        claimName = o.Mode == Web.Authorization.ResourceAuthorizationOptions.Claim ? o.ClaimName : null,
        callbackTimeoutSeconds = o.CallbackTimeout.TotalSeconds,
        cacheSeconds = o.CacheDuration.TotalSeconds,
        maxCacheEntries = o.MaxCacheEntries,
    };

    private static object DescribeWebhooks(Web.Webhooks.WebhookOptions o) => new
    {
        path = Web.Webhooks.WebhookEndpoints.Path,
        sources = o.Sources.Keys.Order(StringComparer.Ordinal).ToList(),
        replayWindowSeconds = o.ReplayWindow.TotalSeconds,
        maxBodyBytes = o.MaxBodyBytes,
        requestsPerMinute = o.RequestsPerMinute,
        jwtRole = o.JwtRole.Length > 0 ? o.JwtRole : null,
        actions = Web.Webhooks.WebhookEndpoints.Actions,
    };

    private static IResult Stats(ConnectionRegistry registry, IEntityRouter router, [FromKeyedServices(CollabTime.Key)] TimeProvider time, IOptions<ConnectionOptions> options)
    {
        var now = time.GetUtcNow();
        var staleAfter = options.Value.StaleAfter;
        var byTransport = new Dictionary<string, int>(StringComparer.Ordinal);
        var stale = 0;
        var total = 0;
        foreach (var session in registry.All)
        {
            total++;
            byTransport[session.Transport] = byTransport.GetValueOrDefault(session.Transport) + 1;
            if (now - session.LastActivity > staleAfter)
            {
                stale++;
            }
        }
        return Results.Json(new
        {
            totalConnections = total,
            uniqueUsers = registry.UniqueUsers,
            byTransport,
            staleConnections = stale,
            activeEntities = router.ActiveRoots.Count,
            time = now,
        });
    }

    private static Task WriteReadiness(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        var status = report.Status switch
        {
            HealthStatus.Healthy => "ready",
            HealthStatus.Degraded => "degraded",
            _ => "not_ready",
        };
        return http.Response.WriteAsJsonAsync(new
        {
            status,
            nodeId = http.RequestServices.GetRequiredService<NodeIdentity>().NodeId,
            totalDurationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 2),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString().ToLowerInvariant(),
                latencyMs = Math.Round(e.Value.Duration.TotalMilliseconds, 2),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        });
    }
}
