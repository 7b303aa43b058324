using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using CollabAkka.Node.Configuration;
using CollabAkka.Web.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Reloading <c>resources.yml</c> without a restart, on this node and across the cluster.
/// <list type="number">
/// <item>An administrator calls <c>POST /api/admin/resource-types/reload</c> on any node. That node re-reads its
/// <c>Collab:ResourcesFile</c> with the start-up loader; a file that fails validation is refused (VALIDATION_FAILED with
/// the loader's message) and the running catalog stays. A valid one replaces the catalog at once
/// (<see cref="ResourceCatalogHolder"/>) and <see cref="ResourceCatalogReplaced"/> goes to this node's event stream,
/// so every entity alive here re-checks its members and lock holders.</item>
/// <item>The node then publishes <see cref="ResourceTypesReloadRequested"/> on a Distributed Pub/Sub topic; every
/// other node does step 1 with its own file. Pub/Sub, not Distributed Data: the file is the state and each node reads
/// its own, so there is nothing to replicate or converge; a node that misses the message (starting, unreachable) reads
/// the file when it starts, or on the next reload. Each node reports the version (content hash) it has in force on
/// <c>GET /api/capabilities</c>, a log line and the <c>collab_resource_types_reloads_total</c> counter.</item>
/// </list>
/// Reloads on one node are serialized; the same content again is "unchanged" and disturbs nobody. SIGHUP (not on
/// Windows) does the same as the endpoint, audited without a user.
/// </summary>
internal sealed partial class ResourceTypeReload : BackgroundService
{
    public const string Path = "/api/admin/resource-types/reload";

    private readonly IServiceProvider _services;
    private readonly IRequiredActor<ResourceRegion> _region;
    private readonly ResourceCatalogHolder _catalogs;
    private readonly string _nodeId;
    private readonly TimeProvider _time;
    private readonly ILogger<ResourceTypeReload> _logger;
    private readonly Counter<long> _reloads;
    private readonly Lock _gate = new();
    private volatile ActorSystem? _system;

    public ResourceTypeReload(IServiceProvider services, IRequiredActor<ResourceRegion> region, ResourceCatalogHolder catalogs,
        NodeIdentity node, [FromKeyedServices(CollabTime.Key)] TimeProvider time, IMeterFactory meters, ILogger<ResourceTypeReload> logger)
    {
        _services = services;
        _region = region;
        _catalogs = catalogs;
        _nodeId = node.NodeId;
        _time = time;
        _logger = logger;
        _reloads = meters.Create(NodeMetrics.MeterName).CreateCounter<long>("collab_resource_types_reloads_total", "{reload}",
            "Reloads of resources.yml on this node by result (reloaded, unchanged, refused).");
    }

    /// <summary>Re-reads this node's file; puts it in force when it is valid and differs from the running one.</summary>
    public ReloadOutcome Reload(string trigger)
    {
        lock (_gate)
        {
            var running = _catalogs.Current;
            ResourceCatalog next;
            try
            {
                next = ResourcesYamlLoader.LoadFile(running.Source);
            }
            catch (Exception ex) when (ex is ResourceConfigException or IOException or UnauthorizedAccessException)
            {
                Count("refused");
                ReloadLog.Refused(_logger, running.Source, trigger, running.Version, ex.Message);
                return new ReloadOutcome(running, running, ex.Message);
            }
            if (next.Version == running.Version)
            {
                Count("unchanged");
                ReloadLog.Unchanged(_logger, running.Source, trigger, running.Version);
                return new ReloadOutcome(running, running, null);
            }
            _catalogs.Replace(next, _time.GetUtcNow());
            _system?.EventStream.Publish(new ResourceCatalogReplaced(next.Version));
            Count("reloaded");
            ReloadLog.Reloaded(_logger, next.Source, trigger, running.Version, next.Version);
            return new ReloadOutcome(running, next, null);
        }
    }

    /// <summary>Tells every other node to reload; false while this node's ActorSystem is not up yet.</summary>
    public bool PublishToCluster(string version)
    {
        if (_system is not { } system)
        {
            return false;
        }
        DistributedPubSub.Get(system).Mediator.Tell(new Publish(ResourceTypesReloadRequested.Topic,
            new ResourceTypesReloadRequested(_nodeId, version)));
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _region.GetAsync(stoppingToken).ConfigureAwait(false); // the ActorSystem is up
        var system = _services.GetRequiredService<ActorSystem>();
        system.ActorOf(Props.Create(() => new Subscriber(this, _nodeId)), "resource-type-reload");
        _system = system;
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        // SIGHUP does what the endpoint does (a hang-up no longer ends the node): reload here, then everywhere. A node
        // started under nohup inherits SIGHUP ignored, and the runtime then never delivers it: take it back first,
        // since a reload on a hang-up is harmless (the same file is "unchanged").
        _ = NativeSignals.signal(NativeSignals.SIGHUP, NativeSignals.SIG_DFL);
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            OnHangup();
        });
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the node stops
        }
    }

    private void OnHangup()
    {
        var outcome = Reload("SIGHUP");
        if (outcome.Error is null)
        {
            PublishToCluster(outcome.Current.Version);
        }
        _services.GetRequiredService<IAuditSink>().Record(new AuditEvent
        {
            EventType = outcome.Error is null ? AuditEventTypes.ResourceTypesReloaded : AuditEventTypes.ResourceTypesReloadRefused,
            Timestamp = _time.GetUtcNow(),
            NodeId = _nodeId,
            Details = AuditDetails(outcome, "SIGHUP"),
        });
    }

    /// <summary>What a reload's audit event records (endpoint and SIGHUP alike).</summary>
    private static Dictionary<string, object?> AuditDetails(ReloadOutcome outcome, string trigger) => outcome.Error is { } error
        ? new() { ["trigger"] = trigger, ["file"] = System.IO.Path.GetFileName(outcome.Previous.Source), ["version"] = outcome.Previous.Version, ["error"] = error }
        : new()
        {
            ["trigger"] = trigger,
            ["file"] = System.IO.Path.GetFileName(outcome.Previous.Source),
            ["previousVersion"] = outcome.Previous.Version,
            ["version"] = outcome.Current.Version,
            ["changed"] = outcome.Changed,
        };

    private void Count(string result) => _reloads.Add(1, new KeyValuePair<string, object?>("result", result));

    /// <summary>Reloads when another node asks (its own requests come back to it too, and are skipped).</summary>
    private sealed class Subscriber : ReceiveActor
    {
        public Subscriber(ResourceTypeReload reload, string nodeId)
        {
            Receive<SubscribeAck>(_ => { });
            Receive<ResourceTypesReloadRequested>(requested =>
            {
                if (requested.FromNodeId != nodeId)
                {
                    reload.Reload($"cluster ({requested.FromNodeId}, {requested.Version})");
                }
            });
        }

        protected override void PreStart() =>
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(ResourceTypesReloadRequested.Topic, Self));
    }

    /// <summary><c>POST /api/admin/resource-types/reload</c> (admin, audited).</summary>
    public static IEndpointRouteBuilder MapResourceTypeReload(IEndpointRouteBuilder app)
    {
        app.MapPost(Path, (HttpContext http, ResourceTypeReload reload, NodeIdentity node) =>
        {
            var outcome = reload.Reload($"HTTP ({http.User.FindFirst("sub")?.Value})");
            var file = System.IO.Path.GetFileName(outcome.Previous.Source);
            if (outcome.Error is { } error)
            {
                HttpAudit.Record(http, AuditEventTypes.ResourceTypesReloadRefused, null, AuditDetails(outcome, "http"));
                return Problems.Result(http, StatusCodes.Status400BadRequest, Messages.ErrorCodes.ValidationFailed,
                    $"{error}{Environment.NewLine}Nothing was reloaded; version {outcome.Previous.Version} stays in force on every node.",
                    new { version = outcome.Previous.Version, resourcesFile = file });
            }
            var clusterNotified = reload.PublishToCluster(outcome.Current.Version);
            HttpAudit.Record(http, AuditEventTypes.ResourceTypesReloaded, null, AuditDetails(outcome, "http"));
            return Results.Json(new
            {
                nodeId = node.NodeId,
                status = outcome.Changed ? "reloaded" : "unchanged",
                version = outcome.Current.Version,
                previousVersion = outcome.Previous.Version,
                resourcesFile = file,
                clusterNotified,
            });
        }).RequireAuthorization(ClusterEndpoints.AdminPolicy)
          .WithSummary("Re-read resources.yml on this node (refused with VALIDATION_FAILED if invalid, the running one stays), then on every node; members who lost access are removed; audited.");
        return app;
    }

    private static partial class ReloadLog
    {
        [LoggerMessage(EventId = 1320, Level = LogLevel.Information,
            Message = "Resource types reloaded from {File} ({Trigger}): version {Previous} -> {Version}.")]
        public static partial void Reloaded(ILogger logger, string file, string trigger, string previous, string version);

        [LoggerMessage(EventId = 1321, Level = LogLevel.Information,
            Message = "Resource types reload from {File} ({Trigger}): unchanged, version {Version}.")]
        public static partial void Unchanged(ILogger logger, string file, string trigger, string version);

        [LoggerMessage(EventId = 1322, Level = LogLevel.Warning,
            Message = "Resource types reload from {File} ({Trigger}) refused; version {Version} stays in force: {Error}")]
        public static partial void Refused(ILogger logger, string file, string trigger, string version, string error);
    }
}

/// <summary>What a reload did: <see cref="Error"/> set when the file was refused (then Current is Previous).</summary>
internal sealed record ReloadOutcome(ResourceCatalog Previous, ResourceCatalog Current, string? Error)
{
    public bool Changed => !ReferenceEquals(Previous, Current);
}

/// <summary>The one libc call the node makes itself: restoring a signal's default disposition (see its caller).</summary>
internal static class NativeSignals
{
    public const int SIGHUP = 1;
    public static readonly IntPtr SIG_DFL = IntPtr.Zero;

#pragma warning disable SYSLIB1054, CA1401, CA2101 // LibraryImport needs unsafe code in this project; one plain call
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "signal")]
    [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
    public static extern IntPtr signal(int signum, IntPtr handler);
#pragma warning restore SYSLIB1054, CA1401, CA2101
}
