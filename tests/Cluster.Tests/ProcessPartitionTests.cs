using System.Diagnostics;
using System.Net;
using CollabAkka.TestKit;
using CollabAkka.Yjs;
using Xunit.Abstractions;

namespace CollabAkka.Cluster.Tests;

/// <summary>
/// A partition between node processes (<see cref="CollabClusterProcesses.PartitionAsync"/>: each node blackholes the
/// other side through Akka.Remote's throttler, driven over <c>POST /cluster/links</c>). The cut-off minority is downed
/// by the split brain resolver and its process exits; the majority takes over its resource with every acknowledged
/// edit and the lock's fencing token moving on; after a heal a restarted node rejoins.
/// </summary>
public sealed class ProcessPartitionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ACutOffNodeProcessIsDownedAndExitsAndTheMajorityServesItsResourceWithEveryAcknowledgedEdit()
    {
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName("partition");
        try
        {
            await using var cluster = await CollabClusterProcesses.StartAsync(3, cs, schema, partitionable: true);

            // The test-only endpoint: admin only, and a peer it can parse in the cluster's protocol.
            var doctor = await cluster[0].GetTokenAsync("doc-user");
            using (var asDoctor = new HttpRequestMessage(HttpMethod.Post, "/cluster/links?peer=akka.trttl.tcp://collab@127.0.0.1:1&cut=true"))
            {
                asDoctor.Headers.Authorization = new("Bearer", doctor);
                using var refused = await cluster[0].Http.SendAsync(asDoctor);
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            }
            var badPeer = await Assert.ThrowsAsync<HttpRequestException>(() => cluster[0].PostAsOperatorAsync("/cluster/links?peer=akka.tcp://collab@127.0.0.1:1&cut=true"));
            Assert.Equal(HttpStatusCode.BadRequest, badPeer.StatusCode);

            // A single-editor document whose entity lives on n3, its lock held through n3, one edit acknowledged.
            var doc = await ClusterInvariants.PlaceOnAsync(cluster[0], "prescription:proc-part-" + Guid.NewGuid().ToString("N")[..6], "n3");
            await using var minority = await cluster[2].ConnectAsync("writer", "Dr. Writer");
            var joined = await minority.JoinAsync(doc, "editor");
            Assert.True(joined.Success && joined.Data.GetProperty("mode").GetString() == "editor", $"{joined.Error?.Message} {joined.Data}");
            var firstToken = joined.Data.GetProperty("lock").GetProperty("fencingToken").GetInt64();
            var ydoc = new YDoc();
            var before = await minority.UpdateAsync(doc, ChaosRun.Capture(ydoc, "before-partition;"));
            Assert.True(before.Success && !ChaosRun.IsPending(before), before.Error?.Message);
            var epochBefore = (await cluster[2].GetResourceStateAsync(doc)).GetProperty("epoch").GetInt64();

            var clock = Stopwatch.StartNew();
            await cluster.PartitionAsync([0, 1], [2]);
            var sentAway = Task.WhenAny(minority.Closing, minority.Closed);

            // The majority removes n3 and serves the document: the same user, through n1, gets the lock back and writes.
            await ClusterInvariants.WaitMembersUpAsync([cluster[0], cluster[1]], 2, Patience); // n3 is on its way out
            var removedAfter = clock.Elapsed;
            SimulatedEditor? majority = null;
            while (majority is null)
            {
                try
                {
                    majority = await SimulatedEditor.OpenAsync(await cluster[0].ConnectAsync("writer", "Dr. Writer"), doc, "editor",
                        () => cluster[0].ConnectAsync("writer", "Dr. Writer"));
                }
                catch (InvalidOperationException ex) when (clock.Elapsed < Patience)
                {
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:0.00} s: join through n1 not yet served: {ex.Message}");
                }
            }
            await using var _ = majority;
            Assert.True(await majority.EditAsync("notes", "after-partition;", Patience), string.Join("; ", majority.VisibleErrors));
            var servedAfter = clock.Elapsed;
            // A new incarnation on the majority (the writer's lock, in its grace period, went back to the same user).
            var state = await cluster[0].GetResourceStateAsync(doc);
            Assert.NotEqual("n3", state.GetProperty("ownerNodeId").GetString());
            Assert.True(state.GetProperty("epoch").GetInt64() > epochBefore, $"epoch {state.GetProperty("epoch")} after {epochBefore}");
            Assert.True(majority.JoinedLock!.Value.GetProperty("fencingToken").GetInt64() >= firstToken);

            // n3, downed, stops and its process exits; its client was sent away.
            Assert.True(await ClusterInvariants.PollAsync(() => Task.FromResult(cluster.Nodes[2]!.HasExited), Patience),
                $"the downed node's process did not exit:\n{cluster.Nodes[2]!.RecentOutput}");
            var exitedAfter = clock.Elapsed;
            await sentAway.WaitAsync(Patience);
            output.WriteLine($"partition: n3 removed by the majority after {removedAfter.TotalSeconds:0.00} s, first edit through n1 acknowledged after " +
                             $"{servedAfter.TotalSeconds:0.00} s, n3's process exited after {exitedAfter.TotalSeconds:0.00} s");

            await ClusterInvariants.AssertAcknowledgedContentAsync(cluster[0], cs, schema, doc, ["before-partition;", "after-partition;"]);
            var grants = await ClusterInvariants.ReadLockGrantsAsync(cs, schema, [doc]);
            ClusterInvariants.AssertSingleLockHolder(grants);
            Assert.Contains(grants, g => g.Token == firstToken);

            // Healed, the restarted n3 rejoins and sees the same document.
            await cluster.HealAsync();
            await cluster.StartNodeAsync(2);
            await cluster.WaitUpAsync(3, Patience);
            await ClusterInvariants.AssertAcknowledgedContentAsync(cluster[2], cs, schema, doc, ["before-partition;", "after-partition;"]);
        }
        finally
        {
            await PostgresTestServer.DropSchemaAsync(cs, schema);
        }
    }

    [Fact]
    public async Task WithoutTheThrottlerTheLinksEndpointDoesNotExist()
    {
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName("nolinks");
        try
        {
            await using var cluster = await CollabClusterProcesses.StartAsync(1, cs, schema);
            var missing = await Assert.ThrowsAsync<HttpRequestException>(() => cluster[0].PostAsOperatorAsync("/cluster/links?peer=akka.tcp://collab@127.0.0.1:1&cut=true"));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.PartitionAsync([0], []));
        }
        finally
        {
            await PostgresTestServer.DropSchemaAsync(cs, schema);
        }
    }
}
