using System.Diagnostics.Metrics;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Node.Configuration;
using CollabAkka.Node.Storage;
using CollabAkka.Web.Auth;
using CollabAkka.Web.Authorization;
using CollabAkka.Web.Hubs;
using CollabAkka.Web.Http;
using CollabAkka.Web.Sessions;
using CollabAkka.Web.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;
using Serilog;
using Serilog.Events;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using Serilog.Formatting.Json;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Builds a node: configuration (appsettings.json, environment, command line, resources.yml) bound to
/// options, stores, entities, the hub and HTTP endpoints. Program and the TestKit both use it, so tests
/// run the same wiring as production, with only time and ports swapped.
/// </summary>
public static partial class CollabNodeBuilder
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        customize?.Invoke(builder);

        var collab = builder.Configuration.GetSection("Collab").Get<CollabOptions>() ?? new CollabOptions();
        var embedded = string.Equals(collab.Profile, CollabOptions.EmbeddedProfile, StringComparison.OrdinalIgnoreCase);
        var dataDir = Path.GetFullPath(collab.DataDir);
        Directory.CreateDirectory(dataDir);
        var nodeId = AkkaHosting.ResolveNodeId(collab.NodeId, dataDir);

        // Logs: Serilog (levels and enrichers from the "Serilog" section via Serilog.Settings.Configuration) underneath
        // Microsoft.Extensions.Logging and Akka (Akka.Logger.Serilog), NDJSON to console and a daily file.
        var logConfig = new LoggerConfiguration()
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            .Enrich.With(new TokenRedactingEnricher())
            .Enrich.WithProperty("NodeId", nodeId)
            .WriteTo.Async(a => a.File(new JsonFormatter(renderMessage: true), Path.Combine(dataDir, "logs", "collab-.ndjson"),
                rollingInterval: RollingInterval.Day, retainedFileCountLimit: 14));
        if (collab.ConsoleLogs)
        {
            logConfig = logConfig.WriteTo.Console(new JsonFormatter(renderMessage: true));
        }
        var logger = logConfig.CreateLogger();
        Log.Logger = logger; // Akka.Logger.Serilog writes through the static logger
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger, dispose: true);

        var catalog = ResourcesYamlLoader.LoadFile(ResolveResourcesFile(collab.ResourcesFile));
        var authOptions = builder.Configuration.GetSection("Auth").Get<CollabAuthOptions>() ?? new CollabAuthOptions();
        var devTokensEnabled = authOptions.DevTokens ?? embedded;
        var connectionOptions = builder.Configuration.GetSection("Collab:Connections").Get<ConnectionOptions>() ?? new ConnectionOptions();
        ValidateConnections(connectionOptions);
        var entityOptions = builder.Configuration.GetSection("Collab:Entities").Get<EntityOptions>() ?? new EntityOptions();
        entityOptions.Validate();
        var documentOptions = builder.Configuration.GetSection("Collab:Documents").Get<DocumentOptions>() ?? new DocumentOptions();
        if (documentOptions.Problems().ToList() is { Count: > 0 } documentProblems)
        {
            throw new OptionsValidationException("Collab:Documents", typeof(DocumentOptions), documentProblems);
        }
        var clusterSettings = builder.Configuration.GetSection("Collab:Cluster").Get<ClusterSettings>() ?? new ClusterSettings();
        clusterSettings.Validate(documentOptions);
        NodeHardening.Apply(builder, devTokensEnabled);

        var services = builder.Services;
        services.TryAddTimeProvider();
        services.AddSingleton(new NodeIdentity(nodeId));
        // The catalog in force; POST /api/admin/resource-types/reload swaps it (ResourceTypeReload). Nothing holds the
        // ResourceCatalog itself: everyone reads the holder's current one.
        var catalogs = new ResourceCatalogHolder(catalog, TimeProvider.System.GetUtcNow());
        services.AddSingleton(catalogs);
        services.Configure<ConnectionOptions>(builder.Configuration.GetSection("Collab:Connections"));
        var shutdownOptions = builder.Configuration.GetSection("Collab:Shutdown").Get<ShutdownOptions>() ?? new ShutdownOptions();
        shutdownOptions.Validate();
        services.Configure<ShutdownOptions>(builder.Configuration.GetSection("Collab:Shutdown"));
        // The graceful leave takes HandOffTimeout + CloseTimeout before Akka's own shutdown; the host must allow for it.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownOptions.HandOffTimeout + shutdownOptions.CloseTimeout + TimeSpan.FromSeconds(30));
        services.Configure<AuditOptions>(builder.Configuration.GetSection("Collab:Audit"));
        services.Configure<EntityOptions>(builder.Configuration.GetSection("Collab:Entities"));
        services.Configure<DocumentOptions>(builder.Configuration.GetSection("Collab:Documents"));
        services.Configure<CollabHttpOptions>(builder.Configuration.GetSection("Collab:Http"));
        var httpOptions = builder.Configuration.GetSection("Collab:Http").Get<CollabHttpOptions>() ?? new CollabHttpOptions();
        if (httpOptions.InlineScheduling)
        {
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        }

        // Registered before the ActorSystem, so it stops after it (hosted services stop in reverse order): entities hand
        // off and drain their commits first, then the committer and the audit buffer flush what remains.
        services.AddHostedService<NodeShutdown>();

        // Stores (Collab:Store: sqlite, the default, or postgres; see StoreRegistration).
        var database = services.AddCollabStores(builder.Configuration, collab, dataDir);
        services.AddSingleton(sp => new BufferedAuditSink(sp.GetRequiredService<IAuditStore>(),
            sp.GetRequiredService<IOptions<AuditOptions>>().Value, sp.GetRequiredService<ILogger<BufferedAuditSink>>(),
            sp.GetRequiredService<IMeterFactory>()));
        services.AddSingleton<IAuditSink>(sp => sp.GetRequiredService<BufferedAuditSink>());

        services.AddSingleton(sp => new DocumentCommitter(sp.GetRequiredService<IDocumentStore>(),
            sp.GetRequiredService<IOptions<DocumentOptions>>().Value, sp.GetRequiredService<ILogger<DocumentCommitter>>(),
            sp.GetRequiredService<BufferedAuditSink>().CountWrittenElsewhere));

        // Entities: sharded actors in the node's ActorSystem, reached through the shard region.
        // Events: this node's connections through SignalR; other nodes' through their delivery actors (ClusterEventSink).
        services.AddSingleton<SignalREventSink>();
        services.AddSingleton(sp => new SignalRDelivery(sp.GetRequiredService<SignalREventSink>()));
        services.AddSingleton(sp => new ClusterTraffic(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredKeyedService<TimeProvider>(CollabTime.Key)));
        services.AddSingleton<IEntityEventSink>(sp => new ClusterEventSink(sp.GetRequiredService<Akka.Actor.ActorSystem>(), nodeId,
            sp.GetRequiredService<SignalREventSink>(), sp.GetRequiredService<ClusterTraffic>()));
        services.AddSingleton(sp => new EntityRuntime(
            nodeId, catalogs, sp.GetRequiredKeyedService<TimeProvider>(CollabTime.Key), sp.GetRequiredService<IAuditSink>(),
            sp.GetRequiredService<IEntityEventSink>(), sp.GetRequiredService<ILockStore>(),
            sp.GetRequiredService<IDocumentStore>(), sp.GetRequiredService<DocumentCommitter>(),
            sp.GetRequiredService<IOptions<DocumentOptions>>().Value,
            entityOptions,
            sp.GetRequiredService<ILoggerFactory>()));
        var bootstrap = builder.Configuration.GetSection("Collab:Bootstrap").Get<BootstrapSettings>() ?? new BootstrapSettings();
        bootstrap.Validate();
        if (bootstrap.Enabled && clusterSettings.SeedNodes.Length > 0)
        {
            throw new OptionsValidationException("Collab:Bootstrap", typeof(BootstrapSettings),
                ["Collab:Bootstrap:Enabled and Collab:Cluster:SeedNodes exclude each other: bootstrap finds the seeds itself."]);
        }
        if (bootstrap.Enabled && clusterSettings.TestTransportAdapters)
        {
            // Bootstrap's contact points speak akka.tcp; the throttler adapter is for TestKit clusters with seed nodes.
            throw new OptionsValidationException("Collab:Cluster", typeof(ClusterSettings),
                ["Collab:Cluster:TestTransportAdapters and Collab:Bootstrap:Enabled exclude each other: a test cluster lists its seed nodes."]);
        }
        if (clusterSettings.TestTransportAdapters && !embedded)
        {
            // It also maps POST /cluster/links, which cuts the node's cluster links: never on a production node.
            throw new OptionsValidationException("Collab:Cluster", typeof(ClusterSettings),
                ["Collab:Cluster:TestTransportAdapters is for test clusters: it needs Collab:Profile=embedded."]);
        }
        services.AddCollabAkka(clusterSettings, entityOptions, nodeId, bootstrap);

        // Sessions and the hub.
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<SessionLifecycle>();
        services.AddSingleton<PresenceReRegistration>();
        services.AddSingleton<NodeDrain>();
        services.AddSingleton<GracefulLeave>();
        services.AddHostedService(sp => sp.GetRequiredService<GracefulLeave>());
        services.AddSingleton<IHostLifetime, DrainingLifetime>(); // after the console lifetime: replaces it
        services.AddSingleton<SessionSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionSweeper>());
        services.AddHostedService<ClusterGauges>();
        services.AddSingleton<SessionCloser>();
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<SessionRevocationReplication>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionRevocationReplication>());
        services.AddSingleton<ResourceTypeReload>();
        services.AddHostedService(sp => sp.GetRequiredService<ResourceTypeReload>());
        services.AddSingleton<CollabHubFilter>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<NodeMetrics>();
        // Before AddSignalR (which only adds the default if none is there): events to a list of connections look
        // each one up instead of scanning every connection of the node (CollabHubLifetimeManager).
        services.AddSingleton<Microsoft.AspNetCore.SignalR.HubLifetimeManager<CollabAkka.Web.Hubs.CollabHub>, CollabAkka.Web.Hubs.CollabHubLifetimeManager>();
        services.AddSignalR(o =>
        {
            o.MaximumReceiveMessageSize = connectionOptions.MaxMessageBytes;
            o.AddFilter<CollabHubFilter>();
        }).AddJsonProtocol()
            // Bytes as bin instead of base64 in JSON; the same contract and validation (docs/PROTOCOL.md §1).
            .AddMessagePackProtocol(o => o.SerializerOptions = CollabAkka.Web.Hubs.WireMessagePack.ServerOptions);

        DevTokenIssuer? devTokens = null;
        if (devTokensEnabled)
        {
            devTokens = new DevTokenIssuer(dataDir, authOptions, TimeProvider.System);
            services.AddSingleton(devTokens);
        }
        services.AddCollabAuthentication(authOptions, devTokens);
        services.AddCollabOperatorPolicy(httpOptions);
        services.AddAuthorizationBuilder().AddPolicy(ClusterEndpoints.AdminPolicy, p => p.RequireAuthenticatedUser().RequireClaim("role", "admin"));
        services.AddCollabResourceAuthorization(builder.Configuration);
        services.AddCollabWebhooks(builder.Configuration);
        services.AddCollabAuditApi(builder.Configuration);
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store")
            .AddCheck<ClusterMemberHealthCheck>("cluster")
            .AddCheck<AuditBufferHealthCheck>("audit")
            .AddCheck<StoreCircuitsHealthCheck>("circuits")
            .AddCheck<DrainHealthCheck>("drain");

        var app = builder.Build();

        database.MigrateAsync().GetAwaiter().GetResult();

        // Instruments exist from the start, so /metrics shows them before first use.
        app.Services.GetRequiredService<PrometheusExporter>();
        app.Services.GetRequiredService<NodeMetrics>();
        app.Services.GetRequiredService<StoreCircuitMetrics>();
        app.Services.GetRequiredService<IAuditSink>();

        app.UseExceptionHandler();
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            var code = http.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => Messages.ErrorCodes.NotFound,
                StatusCodes.Status401Unauthorized => Messages.ErrorCodes.Unauthorized,
                StatusCodes.Status403Forbidden => Messages.ErrorCodes.PermissionDenied,
                StatusCodes.Status413PayloadTooLarge => Messages.ErrorCodes.PayloadTooLarge,
                StatusCodes.Status429TooManyRequests => Messages.ErrorCodes.RateLimited,
                >= 500 => Messages.ErrorCodes.Unavailable,
                _ => Messages.ErrorCodes.ValidationFailed,
            };
            await Problems.WriteAsync(http, http.Response.StatusCode, code, $"HTTP {http.Response.StatusCode} for {http.Request.Path}.").ConfigureAwait(false);
        });
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseCollabHttpAudit();
        app.UseAuthorization();
        app.MapCollab(devTokensEnabled);
        app.MapCluster();
        app.MapClusterLinks(clusterSettings);
        app.MapBootstrapSeedNodes();
        SessionRevocationReplication.MapSessionRevocation(app);
        ResourceTypeReload.MapResourceTypeReload(app);
        app.MapOpenApi(); // /openapi/v1.json
        if (embedded)
        {
            app.MapScalarApiReference(); // /scalar: interactive page, embedded profile only
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CollabAkka.Node");
            foreach (var address in addresses)
            {
                NodeLog.Listening(log, address, nodeId, collab.Profile, catalog.Source, catalog.Version, dataDir);
            }
        });
        return app;
    }

    private static void TryAddTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider) && Equals(d.ServiceKey, CollabTime.Key)))
        {
            services.AddKeyedSingleton(CollabTime.Key, TimeProvider.System);
        }
    }

    private static string ResolveResourcesFile(string path)
    {
        if (Path.IsPathRooted(path) || File.Exists(path))
        {
            return Path.GetFullPath(path);
        }
        var beside = Path.Combine(AppContext.BaseDirectory, path);
        return File.Exists(beside) ? beside : Path.GetFullPath(path);
    }

    private static void ValidateConnections(ConnectionOptions o)
    {
        if (o.MaxConnectionsPerUser < 1 || o.SessionTtl <= TimeSpan.Zero || o.SweepInterval <= TimeSpan.Zero ||
            o.InvocationsPerSecond <= 0 || o.InvocationBurst < 1 || o.MaxMessageBytes < 1024)
        {
            throw new OptionsValidationException("Collab:Connections", typeof(ConnectionOptions),
                ["Collab:Connections: MaxConnectionsPerUser >= 1, SessionTtl > 0, SweepInterval > 0, InvocationsPerSecond > 0, InvocationBurst >= 1, MaxMessageBytes >= 1024 are required."]);
        }
    }

    /// <summary>
    /// Last to stop: after the ActorSystem has handed its entities off (each drains its commits), accepted updates
    /// and buffered audit events land before the process ends.
    /// </summary>
    private sealed class NodeShutdown(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await services.GetRequiredService<DocumentCommitter>().DisposeAsync().AsTask()
                .WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            using var flush = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await services.GetRequiredService<BufferedAuditSink>().FlushAsync(flush.Token)
                .ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private static partial class NodeLog
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information,
            Message = "CollabAkka node {NodeId} ready at {Url} (profile {Profile}; resources {ResourcesFile} version {ResourcesVersion}; data {DataDir}); demo at {Url}/demo")]
        public static partial void Listening(ILogger logger, string url, string nodeId, string profile, string resourcesFile, string resourcesVersion, string dataDir);
    }
}
