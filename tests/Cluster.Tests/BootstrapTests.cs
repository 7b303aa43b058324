using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.TestKit;

namespace CollabAkka.Cluster.Tests;

/// <summary>
/// Three node processes with no seed nodes, only Akka.Management's cluster bootstrap with config discovery (each node's
/// HTTP endpoint a contact point, served by Kestrel at /bootstrap/seed-nodes): they form one cluster by themselves, and a
/// node restarted later joins the running cluster instead of forming a second one.
/// </summary>
public sealed class BootstrapTests
{
    [Fact]
    public async Task NodesWithoutSeedNodesFormOneClusterThroughBootstrapAndARestartedNodeRejoinsIt()
    {
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName("bootstrap");
        var ports = CollabNodeProcess.FreePorts(6); // distinct, HTTP and remoting of each node
        var slots = Enumerable.Range(0, 3)
            .Select(i => (Http: ports[2 * i], Remoting: ports[(2 * i) + 1], Dir: Directory.CreateTempSubdirectory("collab-bootstrap-").FullName))
            .ToList();
        string[] Args(int i) =>
        [
            $"--Collab:NodeId=b{i + 1}", $"--Collab:Cluster:Port={slots[i].Remoting}", "--Collab:Cluster:Hostname=127.0.0.1",
            "--Collab:Store=postgres", $"--ConnectionStrings:Collab={cs}", $"--Collab:Postgres:Schema={schema}",
            "--Collab:Bootstrap:Enabled=true", "--Collab:Bootstrap:RequiredContactPoints=3", "--Collab:Bootstrap:StableMargin=00:00:02",
            .. slots.Select((s, k) => $"--Collab:Bootstrap:ContactPoints:{k}=127.0.0.1:{s.Http}"),
        ];
        var nodes = new CollabNodeProcess?[3];
        try
        {
            var started = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => CollabNodeProcess.StartAsync(slots[i].Dir, slots[i].Http, Args(i))));
            started.CopyTo(nodes, 0);
            foreach (var node in started)
            {
                await WaitMembersUpAsync(node, 3);
            }
            var leaders = await Task.WhenAll(started.Select(async n => (await n.Http.GetFromJsonAsync<JsonElement>("/cluster/members")).GetProperty("leader").GetString()));
            Assert.Single(leaders.Distinct()); // one cluster, not three one-node clusters

            // What the contact point answers, in Akka.Management's own format: this node and the members that are Up.
            var seeds = await started[1].Http.GetFromJsonAsync<JsonElement>("/bootstrap/seed-nodes");
            Assert.Equal(slots[1].Remoting, seeds.GetProperty("SelfNode").GetProperty("Port").GetInt32());
            Assert.Equal(3, seeds.GetProperty("Nodes").GetArrayLength());

            // A node that restarts finds the running cluster through its contact points and joins it.
            await started[0].KillAsync();
            await WaitMembersUpAsync(started[1], 2);
            nodes[0] = await CollabNodeProcess.StartAsync(slots[0].Dir, slots[0].Http, Args(0));
            await WaitMembersUpAsync(nodes[0]!, 3);
            await WaitMembersUpAsync(started[2], 3);
        }
        finally
        {
            foreach (var node in nodes.Where(n => n is not null))
            {
                await node!.DisposeAsync();
            }
            await PostgresTestServer.DropSchemaAsync(cs, schema);
        }
    }

    private static async Task WaitMembersUpAsync(CollabNodeProcess node, int members)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var view = await node.Http.GetFromJsonAsync<JsonElement>("/cluster/members");
            var up = view.GetProperty("members").EnumerateArray()
                .Count(m => m.GetProperty("status").GetString() == "Up" && m.GetProperty("reachable").GetBoolean());
            if (up == members)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{node.BaseUrl} sees {up} members Up, not {members}: {view}");
            await Task.Delay(200);
        }
    }
}
