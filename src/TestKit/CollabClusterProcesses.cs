using System.Diagnostics;

namespace CollabAkka.TestKit;

/// <summary>
/// A cluster of N real node processes on loopback sharing one PostgreSQL schema: each its own Kestrel, ActorSystem
/// and remoting port, the first one the seed of all. For tests that kill (<c>kill -9</c>), pause (<c>SIGSTOP</c>) and
/// resume nodes and check what clients on the others see; started partitionable, also to cut the links between
/// two sides (<see cref="PartitionAsync"/>: each node blackholes the other side's addresses through Akka.Remote's
/// throttler, driven over <c>POST /cluster/links</c>).
/// </summary>
public sealed class CollabClusterProcesses : IAsyncDisposable
{
    private readonly List<CollabNodeProcess?> _nodes;
    private readonly CollabClusterLayout _layout;
    private readonly string[] _extraArgs;
    private readonly ClusterPartition _partition;

    private CollabClusterProcesses(CollabClusterLayout layout, bool partitionable, string[] extraArgs)
    {
        _layout = layout;
        _extraArgs = extraArgs;
        _nodes = [.. layout.Slots.Select(_ => (CollabNodeProcess?)null)];
        _partition = new ClusterPartition(layout, partitionable, i => _nodes[i] is { HasExited: false }, (at, peer, cut) =>
            this[at].PostAsOperatorAsync($"/cluster/links?peer={Uri.EscapeDataString(peer.ToString())}&cut={(cut ? "true" : "false")}"));
    }

    /// <summary>When set (to anything), disposing keeps the nodes' data directories and their logs.</summary>
    public const string KeepDirectoriesVariable = "COLLAB_TEST_KEEP_DIRS";

    public IReadOnlyList<CollabNodeProcess?> Nodes => _nodes;

    /// <summary>The data directory of node <paramref name="index"/> (logs under <c>logs/</c>).</summary>
    public string DataDirectoryOf(int index) => _layout.Slots[index].DataDir;

    public CollabNodeProcess this[int index] => _nodes[index] ?? throw new InvalidOperationException($"Node {index + 1} is not running.");

    public static Task<CollabClusterProcesses> StartAsync(int count, string connectionString, string schema, params string[] extraArgs) =>
        StartAsync(count, connectionString, schema, partitionable: false, extraArgs);

    /// <summary>
    /// With <paramref name="partitionable"/>, every node runs remoting under Akka.Remote's throttler
    /// (<c>Collab:Cluster:TestTransportAdapters</c>, addresses <c>akka.trttl.tcp</c>) so that <see cref="PartitionAsync"/> can cut links.
    /// </summary>
    public static async Task<CollabClusterProcesses> StartAsync(int count, string connectionString, string schema, bool partitionable, params string[] extraArgs)
    {
        var cluster = new CollabClusterProcesses(new CollabClusterLayout(count, connectionString, schema, partitionable), partitionable, extraArgs);
        try
        {
            // The seed first: it forms the cluster; the others join it.
            await cluster.StartNodeAsync(0).ConfigureAwait(false);
            await Task.WhenAll(Enumerable.Range(1, count - 1).Select(cluster.StartNodeAsync)).ConfigureAwait(false);
            await cluster.WaitUpAsync(count).ConfigureAwait(false);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false); // no node process outlives a failed start
            throw;
        }
        return cluster;
    }

    /// <summary>(Re)starts node <paramref name="index"/> with its id, ports and data directory.</summary>
    public async Task StartNodeAsync(int index)
    {
        var slot = _layout.Slots[index];
        _nodes[index] = await CollabNodeProcess.StartAsync(slot.DataDir, slot.HttpPort,
            [.. _layout.SettingsOf(index).Select(kv => $"--{kv.Key}={kv.Value}"), .. _extraArgs]).ConfigureAwait(false);
        await _partition.ReapplyAsync(index).ConfigureAwait(false);
    }

    /// <summary>
    /// Cuts every link between a node of <paramref name="sideA"/> and one of <paramref name="sideB"/> (both ends
    /// blackhole each other; TCP stays up). The failure detectors mark the other side unreachable and the split brain
    /// resolver (keep-majority) downs the minority, whose process then exits. Links stay cut for a restarted node until
    /// <see cref="HealAsync"/>. Needs a cluster started partitionable.
    /// </summary>
    public Task PartitionAsync(int[] sideA, int[] sideB) => _partition.PartitionAsync(sideA, sideB);

    /// <summary>Restores every link <see cref="PartitionAsync"/> cut (a downed node still has to be restarted to rejoin).</summary>
    public Task HealAsync() => _partition.HealAsync();

    /// <summary>Waits until every running node (not one that exited, e.g. downed) sees <paramref name="members"/> members Up and reachable.</summary>
    public Task WaitUpAsync(int members, TimeSpan? timeout = null) =>
        ClusterInvariants.WaitMembersUpAsync(_nodes.Where(n => n is { HasExited: false }).Cast<ICollabNode>(), members, timeout ?? TimeSpan.FromSeconds(90));

    public async Task KillAsync(int index)
    {
        await this[index].KillAsync().ConfigureAwait(false);
        _nodes[index] = null;
    }

    /// <summary>SIGTERM and wait for the exit: the node's graceful leave (hand-off, connection:closing) runs.</summary>
    public async Task StopAsync(int index)
    {
        await this[index].StopAsync().ConfigureAwait(false);
        _nodes[index] = null;
    }

    public bool IsRunning(int index) => _nodes[index] is not null;

    public void Pause(int index) => Signal(this[index].ProcessId, "STOP");

    public void Resume(int index) => Signal(this[index].ProcessId, "CONT");

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}") ?? throw new InvalidOperationException("kill did not start.");
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.Where(n => n is not null))
        {
            await node!.DisposeAsync().ConfigureAwait(false);
        }
        if (Environment.GetEnvironmentVariable(KeepDirectoriesVariable) is { Length: > 0 })
        {
            return; // the nodes' data directories (with their NDJSON logs) stay for a post-mortem
        }
        _layout.DeleteDataDirectories();
    }
}
