using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace CollabAkka.TestKit;

/// <summary>
/// A cluster of N real node processes on loopback sharing one PostgreSQL schema: each its own Kestrel, ActorSystem
/// and remoting port, the first one the seed of all. For tests that kill (<c>kill -9</c>), pause (<c>SIGSTOP</c>) and
/// resume nodes and check what clients on the others see.
/// </summary>
public sealed class CollabClusterProcesses : IAsyncDisposable
{
    private readonly List<CollabNodeProcess?> _nodes;
    private readonly List<(int Http, int Remoting, string DataDir)> _slots;
    private readonly string[] _settings;

    private CollabClusterProcesses(List<CollabNodeProcess?> nodes, List<(int, int, string)> slots, string[] settings)
    {
        _nodes = nodes;
        _slots = slots;
        _settings = settings;
    }

    /// <summary>When set (to anything), disposing keeps the nodes' data directories and their logs.</summary>
    public const string KeepDirectoriesVariable = "COLLAB_TEST_KEEP_DIRS";

    public IReadOnlyList<CollabNodeProcess?> Nodes => _nodes;

    /// <summary>The data directory of node <paramref name="index"/> (logs under <c>logs/</c>).</summary>
    public string DataDirectoryOf(int index) => _slots[index].DataDir;

    public CollabNodeProcess this[int index] => _nodes[index] ?? throw new InvalidOperationException($"Node {index + 1} is not running.");

    public static async Task<CollabClusterProcesses> StartAsync(int count, string connectionString, string schema, params string[] extraArgs)
    {
        var slots = Enumerable.Range(0, count)
            .Select(_ => (CollabNodeProcess.FreePort(), CollabNodeProcess.FreePort(), Directory.CreateTempSubdirectory("collab-cluster-").FullName))
            .ToList();
        // Every node is a seed: a restarted first node then finds the running cluster instead of forming its own.
        var seeds = slots.Select((s, i) => $"--Collab:Cluster:SeedNodes:{i}=akka.tcp://collab@127.0.0.1:{s.Item2}");
        string[] settings = ["--Collab:Store=postgres", $"--ConnectionStrings:Collab={connectionString}", $"--Collab:Postgres:Schema={schema}",
            "--Collab:Cluster:Hostname=127.0.0.1", .. seeds, .. extraArgs];
        var cluster = new CollabClusterProcesses([.. slots.Select(_ => (CollabNodeProcess?)null)], slots, settings);
        // The seed first: it forms the cluster; the others join it.
        await cluster.StartNodeAsync(0).ConfigureAwait(false);
        await Task.WhenAll(Enumerable.Range(1, count - 1).Select(cluster.StartNodeAsync)).ConfigureAwait(false);
        await cluster.WaitUpAsync(count).ConfigureAwait(false);
        return cluster;
    }

    /// <summary>(Re)starts node <paramref name="index"/> with its id, ports and data directory.</summary>
    public async Task StartNodeAsync(int index)
    {
        var (http, remoting, dataDir) = _slots[index];
        _nodes[index] = await CollabNodeProcess.StartAsync(dataDir, http,
            [$"--Collab:NodeId=n{index + 1}", $"--Collab:Cluster:Port={remoting}", .. _settings]).ConfigureAwait(false);
    }

    /// <summary>Waits until every running node sees <paramref name="members"/> members Up and reachable.</summary>
    public async Task WaitUpAsync(int members, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        foreach (var node in _nodes.Where(n => n is not null))
        {
            while (true)
            {
                var view = await node!.Http.GetFromJsonAsync<JsonElement>("/cluster/members").ConfigureAwait(false);
                var up = view.GetProperty("members").EnumerateArray()
                    .Count(m => m.GetProperty("status").GetString() == "Up" && m.GetProperty("reachable").GetBoolean());
                if (up == members)
                {
                    break;
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{node.BaseUrl} sees {up} members Up, not {members}: {view}");
                }
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

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
        foreach (var (_, _, dataDir) in _slots)
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
