using System.Globalization;
using CollabAkka.Node.Hosting;

namespace CollabAkka.TestKit;

/// <summary>
/// The configuration both TestKit clusters give their nodes (<see cref="CollabTestCluster"/> in this process,
/// <see cref="CollabClusterProcesses"/> as processes): one PostgreSQL schema, remoting on loopback, every node a seed
/// (a restarted first node then finds the running cluster instead of forming its own), node ids <c>n1</c>..<c>nN</c>,
/// one dev signing key file for all (a token minted by any node is good on every node, as behind a load balancer).
/// </summary>
internal sealed class CollabClusterLayout
{
    private readonly IReadOnlyDictionary<string, string?> _shared;
    private readonly string _keyDirectory;

    public CollabClusterLayout(int count, string connectionString, string schema, bool testTransportAdapters = false)
    {
        var ports = CollabNodeProcess.FreePorts(2 * count); // distinct: HTTP and remoting of every node
        Slots = Enumerable.Range(0, count)
            .Select(i => new Slot($"n{i + 1}", ports[2 * i], ports[(2 * i) + 1], Directory.CreateTempSubdirectory("collab-cluster-").FullName))
            .ToList();
        _keyDirectory = Directory.CreateTempSubdirectory("collab-cluster-key-").FullName;
        Protocol = new ClusterSettings { TestTransportAdapters = testTransportAdapters }.Protocol;
        var shared = new Dictionary<string, string?>
        {
            ["Collab:Store"] = "postgres",
            ["ConnectionStrings:Collab"] = connectionString,
            ["Collab:Postgres:Schema"] = schema,
            ["Collab:Cluster:Hostname"] = "127.0.0.1",
            ["Auth:DevSigningKeyFile"] = Path.Combine(_keyDirectory, "dev-signing-key.pem"),
        };
        if (testTransportAdapters)
        {
            shared["Collab:Cluster:TestTransportAdapters"] = "true";
        }
        for (var i = 0; i < count; i++)
        {
            shared[$"Collab:Cluster:SeedNodes:{i}"] = $"{Protocol}://{AkkaHosting.SystemName}@127.0.0.1:{Slots[i].RemotingPort}";
        }
        _shared = shared;
    }

    public IReadOnlyList<Slot> Slots { get; }

    /// <summary>The protocol of the nodes' addresses (<c>akka.tcp</c>, or <c>akka.trttl.tcp</c> under the throttler).</summary>
    public string Protocol { get; }

    /// <summary>Node <paramref name="index"/>'s settings: the shared ones, its id and its remoting port.</summary>
    public Dictionary<string, string?> SettingsOf(int index) => new(_shared)
    {
        ["Collab:NodeId"] = Slots[index].NodeId,
        ["Collab:Cluster:Port"] = Slots[index].RemotingPort.ToString(CultureInfo.InvariantCulture),
    };

    public void DeleteDataDirectories()
    {
        foreach (var directory in Slots.Select(s => s.DataDir).Append(_keyDirectory))
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    internal sealed record Slot(string NodeId, int HttpPort, int RemotingPort, string DataDir);
}
