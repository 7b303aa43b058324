using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Akka.Remote.Hosting;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Entities.Serialization;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Hosting;

/// <summary>Akka.NET remoting and cluster settings of a node (<c>Collab:Cluster</c>).</summary>
public sealed class ClusterSettings
{
    /// <summary>Address the node's remoting binds to. Default loopback: the embedded node talks to nobody.</summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>Address other nodes reach this one at (default: <see cref="Hostname"/>).</summary>
    public string? PublicHostname { get; set; }

    /// <summary>Remoting port; 0 picks a free one (fine for a node that joins only itself).</summary>
    public int Port { get; set; }

    /// <summary>Seed node addresses (<c>akka.tcp://collab@host:port</c>); empty: the node forms a one-node cluster with itself.</summary>
    public string[] SeedNodes { get; set; } = [];

    /// <summary>Failure detector: how often members heartbeat each other (library 1 s; cheap with a handful of nodes).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Failure detector: heartbeats may be this late before a member is unreachable (library default 3 s).</summary>
    public TimeSpan AcceptableHeartbeatPause { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// Split brain resolver (keep-majority): how long membership must be stable before unreachable members are downed
    /// (library default 20 s). Short is safe here because every store write is fenced by the root's epoch.
    /// </summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the leader moves members (Joining → Up, Down → Removed; library 1 s). A downed owner's shards get a new
    /// home only once it is Removed, so this is on the failover path.
    /// </summary>
    public TimeSpan LeaderActionsInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often a member gossips the cluster state (library 1 s): how soon the others learn a member was removed.</summary>
    public TimeSpan GossipInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the failure detector's verdicts are turned into reachability (library 1 s): on the failover path.</summary>
    public TimeSpan UnreachableReaperInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often a shard region asks again for the home of shards it holds messages for, and re-registers with a moved
    /// coordinator (library 2 s): after a failover the buffered messages wait for this.
    /// </summary>
    public TimeSpan ShardingRetryInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long after a member is removed its shards are handed to others (library: off, i.e. stable-after again).</summary>
    public TimeSpan DownRemovalMargin { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long the coordinator waits for one shard's rebalance (library 60 s). While a shard is rebalancing the
    /// coordinator does not say where it lives, so every message for its entities waits; when the node it was moving
    /// from or to dies mid-rebalance, only this timeout ends the wait (seen in the chaos run: a shard unavailable for
    /// over 30 s after a node was paused during a rebalance toward it). An entity that has not stopped on its hand-off
    /// message after (this - 5 s, at least 1 s) is stopped; its unacknowledged edits are re-sent by their clients.
    /// </summary>
    public TimeSpan ShardHandOffTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest message between nodes, in bytes (Akka.Remote's <c>maximum-frame-size</c>, library 128,000). Remoting
    /// drops a larger message with only a log line, so its caller waits out the ask timeout: at the library value a
    /// document past ~95 KB could no longer be synced or read through a node that does not own it (seen in the chaos
    /// run, round 61 of 100). It must hold the largest document, update or awareness snapshot
    /// (<c>Collab:Documents</c>) twice over, for base64 and JSON; the node refuses to start otherwise.
    /// </summary>
    public int MaximumFrameSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>The smallest <see cref="MaximumFrameSize"/> that carries a payload of this many bytes: base64 (4/3), JSON escaping and the envelope.</summary>
    public static long FrameSizeFor(int payloadBytes) => 2L * payloadBytes + 64 * 1024;

    /// <summary>
    /// Akka's scheduler: <see cref="SchedulerKind.Deadline"/> (default, <see cref="DeadlineScheduler"/>) sleeps until
    /// the next timer is due; <see cref="SchedulerKind.Wheel"/> is the library's, which wakes every
    /// <see cref="SchedulerTickDuration"/>. At the library's 10 ms tick every wake-up was a thread-pool work item that
    /// woke an idle worker to spin: an idle node burned 6.4 % of a core, 2.5 % with ours (0.5 % before Akka;
    /// PERFORMANCE.md, issue 10).
    /// </summary>
    public SchedulerKind Scheduler { get; set; } = SchedulerKind.Deadline;

    /// <summary>
    /// The wheel's tick (<see cref="SchedulerKind.Wheel"/> only; library 10 ms, its minimum). Every Akka timer is
    /// rounded up by at most one tick; a 50 ms tick cut the idle cost to a third, but its one 100-round chaos run
    /// failed once (PERFORMANCE.md, session 7).
    /// </summary>
    public TimeSpan SchedulerTickDuration { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Shards one rebalance round may move (library default moves one per round, 10 s apart).</summary>
    public int RebalanceAbsoluteLimit { get; set; } = 20;

    /// <summary>
    /// Tests only (default off): put Akka.Remote's throttler adapter (<c>trttl</c>) under remoting so the TestKit can
    /// blackhole the links between in-process nodes (a partition on loopback). It changes the addresses' protocol to
    /// <c>akka.trttl.tcp</c>: every node of the cluster, and its seed nodes, must agree.
    /// </summary>
    public bool TestTransportAdapters { get; set; }

    /// <summary>The protocol of this node's addresses: <c>akka.tcp</c>, or <c>akka.trttl.tcp</c> with <see cref="TestTransportAdapters"/>.</summary>
    public string Protocol => TestTransportAdapters ? "akka.trttl.tcp" : "akka.tcp";

    public void Validate(DocumentOptions documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (MaximumFrameSize < FrameSizeFor(documents.LargestPayloadBytes))
        {
            throw new OptionsValidationException("Collab:Cluster", typeof(ClusterSettings),
                [$"Collab:Cluster:MaximumFrameSize ({MaximumFrameSize} bytes) must be at least {FrameSizeFor(documents.LargestPayloadBytes)}: twice the largest " +
                 $"document, update or awareness snapshot (Collab:Documents: {documents.LargestPayloadBytes} bytes) plus 64 KiB, or nodes could not pass it on."]);
        }
        Validate();
    }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Hostname) || Port is < 0 or > 65535 || HeartbeatInterval <= TimeSpan.Zero ||
            AcceptableHeartbeatPause < HeartbeatInterval || StableAfter <= TimeSpan.Zero || DownRemovalMargin < TimeSpan.Zero || RebalanceAbsoluteLimit < 1 ||
            LeaderActionsInterval <= TimeSpan.Zero || GossipInterval <= TimeSpan.Zero || UnreachableReaperInterval <= TimeSpan.Zero || ShardingRetryInterval <= TimeSpan.Zero ||
            ShardHandOffTimeout < TimeSpan.FromSeconds(1) || !Enum.IsDefined(Scheduler) || SchedulerTickDuration < TimeSpan.FromMilliseconds(10) || SchedulerTickDuration > HeartbeatInterval / 2 || SeedNodes.Any(s => !s.StartsWith($"{Protocol}://{AkkaHosting.SystemName}@", StringComparison.Ordinal)))
        {
            throw new OptionsValidationException("Collab:Cluster", typeof(ClusterSettings),
                [$"Collab:Cluster: Hostname is required, Port 0..65535, SeedNodes like {Protocol}://{AkkaHosting.SystemName}@host:port " +
                 "(akka.trttl.tcp exactly when TestTransportAdapters is on), " +
                 "AcceptableHeartbeatPause >= HeartbeatInterval > 0, StableAfter, GossipInterval, LeaderActionsInterval, UnreachableReaperInterval and " +
                 "ShardingRetryInterval > 0, ShardHandOffTimeout >= 1 s, Scheduler Deadline or Wheel, 10 ms <= SchedulerTickDuration <= HeartbeatInterval / 2, DownRemovalMargin >= 0, RebalanceAbsoluteLimit >= 1."]);
        }
    }
}

/// <summary>Which scheduler Akka runs (<see cref="ClusterSettings.Scheduler"/>).</summary>
public enum SchedulerKind
{
    /// <summary>Ours: one thread that sleeps until the next timer is due.</summary>
    Deadline,

    /// <summary>The library's hashed wheel, waking every tick.</summary>
    Wheel,
}

/// <summary>Marker for the resource shard region in Akka.Hosting's registry.</summary>
public sealed class ResourceRegion;

/// <summary>
/// The node's ActorSystem through Akka.Hosting, configured from our options (no HOCON file): remoting, cluster (a
/// one-node cluster that joins itself unless seed nodes are given), the resource shard region, our serializer for
/// every cross-node message, and Akka's logs through Serilog (Akka.Logger.Serilog).
/// </summary>
public static class AkkaHosting
{
    public const string SystemName = "collab";

    public static IServiceCollection AddCollabAkka(this IServiceCollection services, ClusterSettings cluster, EntityOptions entities, string nodeId,
        BootstrapSettings? bootstrap = null)
    {
        bootstrap ??= new BootstrapSettings();
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(entities);
        services.AddSingleton<EntityCensus>();
        services.AddAkka(SystemName, (builder, sp) =>
        {
            var census = sp.GetRequiredService<EntityCensus>();
            builder
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddSerilogLogging();
                })
                .AddHocon(ClusterHocon(cluster), HoconAddMode.Prepend)
                .WithRemoting(new RemoteOptions
                {
                    HostName = cluster.Hostname,
                    PublicHostName = cluster.PublicHostname ?? cluster.Hostname,
                    Port = cluster.Port,
                })
                .WithClustering(new ClusterOptions
                {
                    SeedNodes = cluster.SeedNodes.Length > 0 ? cluster.SeedNodes : null,
                    Roles = [NodeRole(nodeId)],
                })
                .WithCollabBootstrap(bootstrap)
                .WithCustomSerializer("collab", [typeof(ICollabMessage)], system => new CollabMessageSerializer(system))
                .WithShardRegion<ResourceRegion>(ShardNames.Resources,
                    (_, _) => entityId => ResourceEntityActor.PropsFor(entityId, sp.GetRequiredService<EntityRuntime>(), census),
                    new ResourceMessageExtractor(entities.ShardCount),
                    new ShardOptions
                    {
                        // Entities decide themselves when they may stop (no members, no locks, nothing uncommitted):
                        // the region's own idle timer would drop people who are only reading.
                        ShouldPassivateIdleEntities = false,
                        RememberEntities = false,
                        // The coordinator's shard allocations in Distributed Data (replicated to a majority and read
                        // back by a new coordinator). Left unset, sharding's default is `persistence` with Akka's
                        // in-memory journal: the state lived only on the coordinator's node, so when the oldest node
                        // died (or was downed after SIGSTOP) the new coordinator started empty and allocated shards that
                        // a live region still hosted to another node: two incarnations of one entity at once, fencing each
                        // other's writes in turn and answering reads from stale memory (seen in the chaos run).
                        StateStoreMode = Akka.Cluster.Sharding.StateStoreMode.DData,
                        HandOffStopMessage = HandOffStop.Instance,
                    })
                .WithActors((system, registry) =>
                {
                    var delivery = system.ActorOf(Props.Create(() => new DeliveryActor(sp.GetRequiredService<SignalRDelivery>().Sink,
                        sp.GetRequiredService<Web.Sessions.PresenceReRegistration>().OnActivated, sp.GetRequiredService<ClusterTraffic>())), DeliveryActor.Name);
                    registry.Register<DeliveryActor>(delivery);
                    system.ActorOf(Props.Create(() => new UpSince()), "up-since");
                    system.ActorOf(EntityDeadLetterRedirect.Props(), EntityDeadLetterRedirect.Name);
                })
                .AddStartup((system, _) =>
                {
                    if (cluster.SeedNodes.Length == 0 && !bootstrap.Enabled) // bootstrap decides who forms the cluster
                    {
                        var self = Cluster.Get(system);
                        self.Join(self.SelfAddress);
                    }
                });
        });
        services.AddSingleton(bootstrap);
        services.AddSingleton(cluster);
        services.AddHostedService<ClusterBootstrapping.Starter>();
        services.AddSingleton<IEntityRouter>(sp =>
        {
            var region = sp.GetRequiredService<IRequiredActor<ResourceRegion>>();
            return new ShardedEntityRouter(ct => region.GetAsync(ct), entities, sp.GetRequiredService<EntityCensus>());
        });
        return services;
    }

    /// <summary>The cluster role that names a node's id, so a member maps to the node id in audit records and recipients.</summary>
    public static string NodeRole(string nodeId) => NodeRoles.For(nodeId);

    // Failure detection, split brain resolver and rebalancing timings (ARCHITECTURE §12 says why these values).
    private static string ClusterHocon(ClusterSettings c) => string.Join('\n',
        // The throttler adapter lets the TestKit cut links between in-process nodes (ClusterSettings.TestTransportAdapters).
        c.TestTransportAdapters ? "akka.remote.dot-netty.tcp.applied-adapters = [trttl]" : "",
        "akka.actor.serialize-messages = off",
        $"akka.scheduler.tick-duration = {Ms(c.SchedulerTickDuration)}",
        c.Scheduler == SchedulerKind.Deadline ? $"akka.scheduler.implementation = \"{typeof(DeadlineScheduler).AssemblyQualifiedName}\"" : "",
        "akka.log-dead-letters-during-shutdown = off",
        // The host drives the shutdown (GracefulLeave first, then Akka.Hosting runs coordinated shutdown): Akka's own
        // SIGTERM hook would hand shards off and leave concurrently, while clients still use this node.
        "akka.coordinated-shutdown.run-by-clr-shutdown-hook = off",
        $"akka.cluster.failure-detector.heartbeat-interval = {Ms(c.HeartbeatInterval)}",
        $"akka.cluster.failure-detector.acceptable-heartbeat-pause = {Ms(c.AcceptableHeartbeatPause)}",
        "akka.cluster.downing-provider-class = \"Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster\"",
        "akka.cluster.split-brain-resolver.active-strategy = keep-majority",
        $"akka.cluster.split-brain-resolver.stable-after = {Ms(c.StableAfter)}",
        $"akka.cluster.down-removal-margin = {Ms(c.DownRemovalMargin)}",
        $"akka.cluster.leader-actions-interval = {Ms(c.LeaderActionsInterval)}",
        $"akka.cluster.gossip-interval = {Ms(c.GossipInterval)}",
        $"akka.cluster.unreachable-nodes-reaper-interval = {Ms(c.UnreachableReaperInterval)}",
        $"akka.cluster.sharding.retry-interval = {Ms(c.ShardingRetryInterval)}",
        $"akka.cluster.sharding.handoff-timeout = {Ms(c.ShardHandOffTimeout)}",
        $"akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = {c.RebalanceAbsoluteLimit}",
        // TCP streams a frame of any size through the sockets' buffers, so those stay at the library's values.
        $"akka.remote.dot-netty.tcp.maximum-frame-size = {c.MaximumFrameSize.ToString(System.Globalization.CultureInfo.InvariantCulture)}b");

    private static string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms";

    /// <summary>Node id from settings, else the one kept in the data directory (created on first start).</summary>
    public static string ResolveNodeId(string? configured, string dataDir)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return IsValidNodeId(configured) ? configured
                : throw new OptionsValidationException("Collab:NodeId", typeof(CollabOptions),
                    ["Collab:NodeId: 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'."]);
        }
        var file = Path.Combine(dataDir, "node-id");
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } stored && IsValidNodeId(stored))
        {
            return stored;
        }
        var host = new string(Environment.MachineName.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '-').Take(40).ToArray());
        var created = $"{(host.Length > 0 ? host : "node")}-{Guid.NewGuid().ToString("N")[..6]}";
        File.WriteAllText(file, created);
        return created;
    }

    private static bool IsValidNodeId(string id) =>
        id.Length is >= 1 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>This node's own SignalR delivery, wrapped so the cluster sink and the delivery actor share it.</summary>
public sealed class SignalRDelivery(IEntityEventSink sink)
{
    public IEntityEventSink Sink { get; } = sink;
}
