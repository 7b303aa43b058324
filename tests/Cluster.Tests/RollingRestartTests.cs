using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.TestKit;
using Xunit.Abstractions;

namespace CollabAkka.Cluster.Tests;

/// <summary>
/// Graceful leave and rolling restart: each of three node processes in turn gets SIGTERM (hand-off, connection:closing),
/// is restarted and rejoins, while editors connected to every node keep typing. The editors (the TestKit's, which do
/// what the widget does on connection:closing) reconnect elsewhere at once; nothing acknowledged is lost and no editor
/// meets a refusal it would have to handle.
/// </summary>
public sealed class RollingRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ARollingRestartOfEveryNodeUnderEditingLoadLosesNoAcknowledgedUpdateAndShowsNoClientAnError()
    {
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName("rolling");
        try
        {
            await using var cluster = await CollabClusterProcesses.StartAsync(3, cs, schema,
                "--Collab:Connections:InvocationsPerSecond=2000", "--Collab:Connections:InvocationBurst=4000");
            var editors = new List<SimulatedEditor>();
            for (var i = 0; i < 3; i++)
            {
                var user = $"roll{i}";
                var home = i;
                // Reconnect like a load balancer would: to the next node that is up.
                async Task<CollabTestClient> Reconnect()
                {
                    for (var k = 1; k <= 3; k++)
                    {
                        var n = (home + k) % 3;
                        if (cluster.IsRunning(n))
                        {
                            home = n;
                            return await cluster[n].ConnectAsync(user, $"Dr. Roll {i}");
                        }
                    }
                    throw new InvalidOperationException("no node is up");
                }
                editors.Add(await SimulatedEditor.OpenAsync(await cluster[i].ConnectAsync(user, $"Dr. Roll {i}"),
                    $"patient-chart:rolling-{i}-{Guid.NewGuid().ToString("N")[..6]}/tab:notes", reconnect: Reconnect));
            }

            var acknowledged = editors.Select(_ => new List<string>()).ToList();
            using var stop = new CancellationTokenSource();
            var typing = editors.Select((editor, i) => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var mark = $"e{i}-{n};";
                    if (await editor.EditAsync("notes", mark, TimeSpan.FromSeconds(30)))
                    {
                        lock (acknowledged[i])
                        {
                            acknowledged[i].Add(mark);
                        }
                    }
                    await Task.Delay(20);
                }
            })).ToList();

            var clock = Stopwatch.StartNew();
            for (var node = 0; node < 3; node++)
            {
                await cluster.StopAsync(node); // SIGTERM: graceful leave
                output.WriteLine($"n{node + 1} stopped at {clock.Elapsed.TotalSeconds:0.0} s");
                await cluster.StartNodeAsync(node);
                await cluster.WaitUpAsync(3);
                output.WriteLine($"n{node + 1} up again at {clock.Elapsed.TotalSeconds:0.0} s");
            }
            // Some more edits after the last restart, then stop typing.
            var before = acknowledged.Select(a => { lock (a) { return a.Count; } }).ToArray();
            var settle = Stopwatch.StartNew();
            while (acknowledged.Select((a, i) => { lock (a) { return a.Count - before[i]; } }).Min() < 3 && settle.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50); // polling the editors' progress with a deadline
            }
            await stop.CancelAsync();
            await Task.WhenAll(typing);

            for (var i = 0; i < 3; i++)
            {
                var editor = editors[i];
                output.WriteLine($"editor {i}: {acknowledged[i].Count} acknowledged edits, {editor.Reconnects} reconnects, " +
                                 $"{editor.TransparentRetries} transparent retries, visible errors: {string.Join(" | ", editor.VisibleErrors)}");
                Assert.Empty(editor.VisibleErrors);
                Assert.True(editor.Reconnects >= 1, "the editor never had to move");
                var content = await ContentAsync(cluster, editor.ResourceId);
                var missing = acknowledged[i].Where(m => !content.Contains(m, StringComparison.Ordinal)).ToList();
                Assert.True(missing.Count == 0, $"acknowledged edits missing from the stored content: {string.Join(", ", missing)}");
                Assert.Equal(editor.Doc.GetText("notes").ToString(), content);
            }
            foreach (var editor in editors)
            {
                await editor.DisposeAsync();
            }
        }
        finally
        {
            await PostgresTestServer.DropSchemaAsync(cs, schema);
        }
    }

    [Fact]
    public async Task ANodeJoiningARunningClusterTakesItsShareOfShardsWithinSixtySeconds()
    {
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName("joinshare");
        try
        {
            await using var cluster = await CollabClusterProcesses.StartAsync(3, cs, schema);
            // Activate entities so that every shard is allocated (shards exist once a message reached them).
            var token = await cluster[0].GetTokenAsync("op", "Operator", "admin");
            await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (n, ct) =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/patient-chart:share-{n}");
                request.Headers.Authorization = new("Bearer", token);
                using var response = await cluster[0].Http.SendAsync(request, ct);
                response.EnsureSuccessStatusCode();
            });
            await cluster.StopAsync(2); // n3 leaves: its shards go to n1 and n2
            await cluster.WaitUpAsync(2);
            var allocated = (await ShardsPerNodeAsync(cluster[0], token)).Values.Sum();

            var clock = Stopwatch.StartNew();
            await cluster.StartNodeAsync(2);
            await cluster.WaitUpAsync(3);
            Dictionary<string, int> perNode;
            while (true)
            {
                perNode = await ShardsPerNodeAsync(cluster[0], token);
                var even = perNode.Values.Sum() / 3.0;
                if (perNode.Count == 3 && perNode.Values.All(c => Math.Abs(c - even) <= 1))
                {
                    break;
                }
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"shards per node after 60 s: {JsonSerializer.Serialize(perNode)}");
                await Task.Delay(250); // polling /cluster/shards with a deadline
            }
            output.WriteLine($"{allocated} shards; the joining node took its share in {clock.Elapsed.TotalSeconds:0.0} s: {JsonSerializer.Serialize(perNode)}");
        }
        finally
        {
            await PostgresTestServer.DropSchemaAsync(cs, schema);
        }
    }

    private static async Task<Dictionary<string, int>> ShardsPerNodeAsync(CollabNodeProcess node, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/cluster/shards");
        request.Headers.Authorization = new("Bearer", token);
        using var response = await node.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("address").GetString()!, n => n.GetProperty("shardCount").GetInt32());
    }

    private static async Task<string> ContentAsync(CollabClusterProcesses cluster, string resource)
    {
        var node = Enumerable.Range(0, 3).First(cluster.IsRunning);
        await using var reader = await cluster[node].ConnectAsync("checker", "Checker");
        Assert.True((await reader.JoinAsync(resource, "viewer")).Success);
        var sync = await reader.SyncAsync(resource);
        var copy = new Yjs.YDoc();
        copy.ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
        return copy.GetText("notes").ToString();
    }
}
