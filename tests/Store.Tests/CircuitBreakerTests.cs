using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Store.Tests;

/// <summary>
/// PostgreSQL (a private cluster) is stopped while four editors write continuously: the documents breaker opens,
/// writes are refused at once with UNAVAILABLE, presence and awareness keep working, /ready and /metrics show the
/// breaker; when PostgreSQL returns the breaker recovers through half-open by itself, and every update that was
/// acknowledged is in the database (read back by a fresh node).
/// </summary>
public sealed class CircuitBreakerTests
{
    private const int Writers = 4;

    private static byte[] FieldUpdate(string field, string text)
    {
        var doc = new YDoc();
        byte[]? update = null;
        doc.UpdateProduced += (_, e) => update = e.Update;
        doc.GetText(field).Insert(0, text);
        return update!;
    }

    private sealed class Writer(CollabTestClient client, string resourceId, int index)
    {
        public CollabTestClient Client { get; } = client;
        public string ResourceId { get; } = resourceId;
        public List<string> Acknowledged { get; } = [];
        public List<string> Refused { get; } = [];
        private int _n;

        public async Task RunAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var field = $"w{index}-{_n++}";
                var response = await Client.UpdateAsync(ResourceId, FieldUpdate(field, $"value {field}"));
                lock (this)
                {
                    if (response.Success)
                    {
                        Acknowledged.Add(field);
                    }
                    else
                    {
                        Refused.Add(response.Error!.Code);
                    }
                }
                if (!response.Success)
                {
                    await Task.Yield();
                }
            }
        }

        public int AckCount
        {
            get
            {
                lock (this)
                {
                    return Acknowledged.Count;
                }
            }
        }
    }

    private static async Task<JsonElement> ReadyAsync(CollabTestNode node)
    {
        using var response = await node.Http.GetAsync("/ready");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string CircuitState(JsonElement ready, string circuit) =>
        ready.GetProperty("checks").GetProperty("circuits").GetProperty("data").GetProperty(circuit).GetProperty("state").GetString()!;

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < timeout, $"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task StoppingPostgresUnderLoadOpensTheBreakerRefusesWritesAtOnceAndRecoversWithoutLosingAcknowledgedUpdates()
    {
        await using var pg = await PostgresTestServer.StartPrivateAsync();
        var schema = PostgresTestServer.CreateSchemaName("breaker");
        var settings = new Dictionary<string, string?>
        {
            ["Collab:Store"] = "postgres",
            ["ConnectionStrings:Collab"] = pg.ConnectionString,
            ["Collab:Postgres:Schema"] = schema,
            ["Collab:Postgres:ConnectTimeoutSeconds"] = "2",
            ["Collab:Resilience:BreakDuration"] = "00:00:02",
            ["Collab:Audit:BufferCapacity"] = "100000",
            // The writers retry a refused update at once, as fast as the breaker refuses it; this test is about the
            // breaker, so the per-connection invocation rate limit (its own tests are in Gateway.Tests) is out of the way.
            ["Collab:Connections:InvocationsPerSecond"] = "1000000",
            ["Collab:Connections:InvocationBurst"] = "1000000",
        };
        var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = settings });
        var writers = new List<Writer>();
        var restarted = false;
        try
        {
            for (var i = 0; i < Writers; i++)
            {
                var client = await node.ConnectAsync($"cb-user{i}");
                var resource = $"document:cb-{schema}/tab:t{i}";
                Assert.Equal("editor", (await client.JoinAsync(resource, "editor")).Data.GetProperty("mode").GetString());
                writers.Add(new Writer(client, resource, i));
            }
            // A second wave of editors, each holding the lock of its own tab, writes only while the breaker is open
            // (the first wave's in-flight updates wait for durability, and a hub connection invokes one method at a time).
            var second = new List<(CollabTestClient Client, string ResourceId)>();
            for (var i = 0; i < Writers; i++)
            {
                var client = await node.ConnectAsync($"cb-second{i}");
                var resource = $"document:cb-{schema}/tab:s{i}";
                Assert.Equal("editor", (await client.JoinAsync(resource, "editor")).Data.GetProperty("mode").GetString());
                second.Add((client, resource));
            }
            await using var watcher = await node.ConnectAsync("cb-watcher", "Watcher", "viewer");
            Assert.True((await watcher.JoinAsync(writers[0].ResourceId, "viewer")).Success);

            using var stop = new CancellationTokenSource();
            var load = writers.Select(w => w.RunAsync(stop.Token)).ToList();
            await UntilAsync(() => Task.FromResult(writers.All(w => w.AckCount >= 5)), TimeSpan.FromSeconds(60), "writes before the outage");
            Assert.Equal("closed", CircuitState(await ReadyAsync(node), "documents"));

            await pg.StopAsync();

            // The documents breaker opens after five failed commits; from then on refusals are immediate.
            await UntilAsync(async () => CircuitState(await ReadyAsync(node), "documents") == "open", TimeSpan.FromSeconds(60), "the breaker to open");
            var refusals = await Task.WhenAll(second.Select(async w =>
            {
                var latencies = new List<TimeSpan>();
                for (var k = 0; k < 10; k++)
                {
                    var watch = Stopwatch.StartNew();
                    var refused = await w.Client.UpdateAsync(w.ResourceId, FieldUpdate($"open-{k}", "x"));
                    latencies.Add(watch.Elapsed);
                    Assert.Equal("UNAVAILABLE", refused.Error!.Code);
                    Assert.Contains("circuit breaker is open", refused.Error.Message, StringComparison.Ordinal);
                }
                return latencies;
            }));
            var all = refusals.SelectMany(l => l).Order().ToList();
            Assert.True(all[^1] < TimeSpan.FromSeconds(1), $"slowest refusal took {all[^1]}");
            File.AppendAllText(Path.Combine(Path.GetTempPath(), "collab-breaker-refusals.txt"),
                $"{DateTimeOffset.UtcNow:O} refusals={all.Count} p50={all[all.Count / 2].TotalMilliseconds:F1}ms max={all[^1].TotalMilliseconds:F1}ms{Environment.NewLine}");

            var metrics = await node.Http.GetStringAsync("/metrics");
            Assert.Contains("collab_store_circuit_state{circuit=\"documents\"} 1", metrics, StringComparison.Ordinal);

            // Presence and awareness do not need the store.
            await using var late = await node.ConnectAsync("cb-late", "Late", "viewer");
            Assert.True((await late.JoinAsync(writers[0].ResourceId, "viewer")).Success);
            await watcher.WaitForAsync("user:joined", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == "cb-late");
            var state = YAwareness.Encode([new YAwarenessEntry(4242, 1, "{\"user\":{\"name\":\"w0\"}}")]);
            Assert.True((await watcher.InvokeAsync("awareness:update",
                new { resourceId = writers[0].ResourceId, update = Convert.ToBase64String(state) })).Success);
            await late.WaitForAsync("awareness:update");

            var acknowledgedAtRestart = writers.Select(w => w.AckCount).ToList();
            await pg.StartAsync();
            restarted = true;

            // Recovery by itself, through half-open: every writer gets new acknowledgements.
            await UntilAsync(() => Task.FromResult(writers.Select((w, i) => w.AckCount > acknowledgedAtRestart[i]).All(x => x)),
                TimeSpan.FromSeconds(90), "writes after the outage");
            var circuits = (PostgresCircuits)node.Services.GetService(typeof(CollabAkka.Entities.Resources.IStoreCircuits))!;
            var documents = circuits.Circuits.Single(c => c.Name == PostgresCircuits.Documents);
            Assert.Equal("closed", documents.State);
            Assert.True(documents.HalfOpened >= 1);
            Assert.True(documents.Opened >= 1);

            await stop.CancelAsync();
            await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.All(writers, w => Assert.All(w.Refused, r => Assert.Equal("UNAVAILABLE", r)));
            foreach (var w in writers)
            {
                await w.Client.DisposeAsync();
            }
            foreach (var (client, _) in second)
            {
                await client.DisposeAsync();
            }
        }
        finally
        {
            if (!restarted)
            {
                await pg.StartAsync();
            }
            await node.DisposeAsync();
        }

        // A fresh node on the same schema has every acknowledged update.
        await using var fresh = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = settings });
        var token = await fresh.GetTokenAsync("cb-auditor", "Auditor", "auditor");
        foreach (var w in writers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{w.ResourceId}/content");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await fresh.Http.SendAsync(request);
            var content = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("content");
            Assert.All(w.Acknowledged, field => Assert.Equal($"value {field}", content.GetProperty(field).GetString()));
            Assert.True(w.Acknowledged.Count >= 6);
        }
    }
}
