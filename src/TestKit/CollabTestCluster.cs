using Akka.Actor;
using CollabAkka.Node.Hosting;

namespace CollabAkka.TestKit;

/// <summary>Options for an in-process cluster (<see cref="CollabTestCluster"/>).</summary>
public sealed class CollabTestClusterOptions
{
    /// <summary>Configuration keys every node gets, e.g. <c>["Collab:Connections:InvocationsPerSecond"] = "2000"</c>.</summary>
    public IDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>The PostgreSQL server; <see cref="PostgresTestServer.SharedConnectionStringAsync"/> when null.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The schema the nodes share; a fresh one (dropped on dispose) when null.</summary>
    public string? Schema { get; init; }

    /// <summary>
    /// Put Akka.Remote's throttler adapter under every node's remoting (<c>Collab:Cluster:TestTransportAdapters</c>),
    /// which <see cref="CollabTestCluster.PartitionAsync"/> needs. Off by default: the nodes then run remoting exactly
    /// as in production.
    /// </summary>
    public bool Partitionable { get; init; }

    /// <summary>How long start-up and <see cref="CollabTestCluster.WaitUpAsync"/> wait for the members to be Up (default 90 s).</summary>
    public TimeSpan UpTimeout { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>
/// An Akka.NET cluster of N real nodes in this process (each a <see cref="CollabTestNode"/>: Kestrel on its loopback
/// port, its own ActorSystem and remoting port, the production wiring) on one PostgreSQL schema, node ids
/// <c>n1</c>..<c>nN</c>, every node a seed. Clients connect to <c>cluster[i]</c> over real WebSockets. Stop and
/// restart nodes (same ports, id and data directory), and, with <see cref="CollabTestClusterOptions.Partitionable"/>,
/// cut the links between two groups of nodes with Akka.Remote's throttler (a blackhole in both directions) and heal
/// them. For what needs a real process (<c>kill -9</c>, <c>SIGSTOP</c>) use <see cref="CollabClusterProcesses"/>;
/// <see cref="ClusterInvariants"/> checks either.
/// </summary>
/// <example>
/// <code>
/// await using var cluster = await CollabTestCluster.StartAsync(3, new CollabTestClusterOptions { Partitionable = true });
/// await using var alice = await cluster[0].ConnectAsync("alice");
/// await cluster.PartitionAsync([0, 1], [2]);   // the split brain resolver downs n3
/// await cluster.WaitUpAsync(2, [0, 1]);
/// await cluster.HealAsync();
/// await cluster.StartNodeAsync(2);             // n3 rejoins
/// </code>
/// </example>
public sealed class CollabTestCluster : IAsyncDisposable
{
    private readonly CollabClusterLayout _layout;
    private readonly CollabTestNode?[] _nodes;
    private readonly CollabTestClusterOptions _options;
    private readonly (string ConnectionString, string Schema)? _ownedSchema;
    private readonly ClusterPartition _partition;

    private CollabTestCluster(CollabClusterLayout layout, CollabTestClusterOptions options, (string, string)? ownedSchema)
    {
        _layout = layout;
        _options = options;
        _ownedSchema = ownedSchema;
        _nodes = new CollabTestNode?[layout.Slots.Count];
        _partition = new ClusterPartition(layout, options.Partitionable, IsRunning, (at, peer, cut) => ClusterLinks.SetAsync(_nodes[at]!.ActorSystem, peer, cut));
    }

    public int Count => _nodes.Length;

    /// <summary>The connection string and schema the nodes share (for <see cref="ClusterInvariants"/>' store checks).</summary>
    public string ConnectionString { get; private init; } = "";

    public string Schema { get; private init; } = "";

    /// <summary>Node <paramref name="index"/> (0-based; its node id is <c>n{index + 1}</c>), when it runs.</summary>
    public CollabTestNode this[int index] => _nodes[index] ?? throw new InvalidOperationException($"Node n{index + 1} is not running.");

    /// <summary>The node id of node <paramref name="index"/>.</summary>
    public string NodeIdOf(int index) => _layout.Slots[index].NodeId;

    /// <summary>The nodes that run and whose ActorSystem has not terminated (a downed node stops by itself).</summary>
    public IReadOnlyList<CollabTestNode> Running => [.. _nodes.Where(n => n is not null && !n.Terminated.IsCompleted).Select(n => n!)];

    public bool IsRunning(int index) => _nodes[index] is { } node && !node.Terminated.IsCompleted;

    /// <summary>Starts <paramref name="nodes"/> nodes (the first one forms the cluster) and waits until every one sees all Up.</summary>
    public static async Task<CollabTestCluster> StartAsync(int nodes, CollabTestClusterOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        options ??= new CollabTestClusterOptions();
        var connectionString = options.ConnectionString ?? await PostgresTestServer.SharedConnectionStringAsync().ConfigureAwait(false);
        var schema = options.Schema ?? PostgresTestServer.CreateSchemaName();
        var cluster = new CollabTestCluster(new CollabClusterLayout(nodes, connectionString, schema, options.Partitionable), options,
            options.Schema is null ? (connectionString, schema) : null)
        {
            ConnectionString = connectionString,
            Schema = schema,
        };
        try
        {
            await cluster.StartNodeAsync(0).ConfigureAwait(false);
            await Task.WhenAll(Enumerable.Range(1, nodes - 1).Select(cluster.StartNodeAsync)).ConfigureAwait(false);
            await cluster.WaitUpAsync(nodes).ConfigureAwait(false);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return cluster;
    }

    /// <summary>
    /// (Re)starts node <paramref name="index"/> on its ports, node id and data directory, and waits until it is Up.
    /// Links cut by <see cref="PartitionAsync"/> stay cut for it until <see cref="HealAsync"/>.
    /// </summary>
    public async Task StartNodeAsync(int index)
    {
        if (_nodes[index] is { } old)
        {
            if (!old.Terminated.IsCompleted)
            {
                throw new InvalidOperationException($"Node n{index + 1} is running; stop it first.");
            }
            await old.DisposeAsync().ConfigureAwait(false); // downed: its ActorSystem stopped, the host follows
            _nodes[index] = null;
        }
        var slot = _layout.Slots[index];
        var settings = _layout.SettingsOf(index);
        foreach (var (key, value) in _options.Settings)
        {
            settings[key] = value;
        }
        var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = settings, DataDir = slot.DataDir, HttpPort = slot.HttpPort })
            .ConfigureAwait(false);
        _nodes[index] = node;
        await _partition.ReapplyAsync(index).ConfigureAwait(false);
    }

    /// <summary>Graceful stop of node <paramref name="index"/>, as on SIGTERM: leave the cluster, hand shards off, close connections.</summary>
    public async Task StopAsync(int index)
    {
        var node = _nodes[index] ?? throw new InvalidOperationException($"Node n{index + 1} is not running.");
        _nodes[index] = null;
        await node.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Waits until each of <paramref name="observers"/> (default: every running node) sees exactly <paramref name="members"/>
    /// members Up and reachable.
    /// </summary>
    public Task WaitUpAsync(int members, IEnumerable<int>? observers = null, TimeSpan? timeout = null) =>
        ClusterInvariants.WaitMembersUpAsync(observers?.Select(i => (ICollabNode)this[i]) ?? Running, members, timeout ?? _options.UpTimeout);

    /// <summary>
    /// Cuts every link between a node of <paramref name="sideA"/> and one of <paramref name="sideB"/>: each end
    /// blackholes the other's address in both directions (Akka.Remote's throttler; heartbeats, gossip and sharding
    /// traffic are dropped, TCP stays up). The failure detectors then mark the other side unreachable and the split brain
    /// resolver (keep-majority) downs the minority, which stops by itself. Needs <see cref="CollabTestClusterOptions.Partitionable"/>.
    /// </summary>
    public Task PartitionAsync(int[] sideA, int[] sideB) => _partition.PartitionAsync(sideA, sideB);

    /// <summary>Restores every link <see cref="PartitionAsync"/> cut (a downed node still has to be restarted to rejoin).</summary>
    public Task HealAsync() => _partition.HealAsync();

    /// <summary>Stops every node (gracefully), deletes their data directories and drops the schema if the cluster created it.</summary>
    public async ValueTask DisposeAsync()
    {
        // All at once: a node leaving alone waits for hand-offs to members that are leaving too.
        await Task.WhenAll(_nodes.Where(n => n is not null).Select(n => n!.DisposeAsync().AsTask())).ConfigureAwait(false);
        Array.Clear(_nodes);
        _layout.DeleteDataDirectories();
        if (_ownedSchema is { } owned)
        {
            await PostgresTestServer.DropSchemaAsync(owned.ConnectionString, owned.Schema).ConfigureAwait(false);
        }
    }
}
