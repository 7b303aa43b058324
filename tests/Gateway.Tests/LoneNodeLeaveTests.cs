using System.Diagnostics;
using System.Text.Json;
using CollabAkka.Messages;
using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// SIGTERM to the only node of its cluster (the embedded default) while a client keeps working. Before the fix, every
/// request that reached the shard region after its shard was handed off was buffered there, waiting for a new home that
/// a lone node's coordinator never gives. The buffer held the hand-off open until Collab:Shutdown:HandOffTimeout,
/// Akka's region shutdown waited for it again, and the callers waited out their ask timeout. Now the leave refuses new
/// entity requests at once (UNAVAILABLE, node shutting down) when no other member can take the shards over.
/// </summary>
public sealed class LoneNodeLeaveTests
{
    [Fact]
    public async Task ALoneNodeLeavesWithoutWaitingOutItsHandOffTimeoutWhileAClientKeepsSendingRequests()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-lone-leave-").FullName;
        try
        {
            await using var node = await CollabNodeProcess.StartAsync(dataDir, null, "--Collab:Shutdown:HandOffTimeout=00:00:20",
                "--Collab:Connections:InvocationsPerSecond=100000", "--Collab:Connections:InvocationBurst=100000");
            // Four clients, each co-editing 40 documents spread over the shards, so the hand-off of 100 shards is still
            // running when requests for the shards it already handed off come in.
            var clients = new List<CollabTestClient>();
            var refusals = new List<HubError>();
            var workers = new List<Task>();
            for (var c = 0; c < 4; c++)
            {
                var client = await node.ConnectAsync($"user-{c}");
                clients.Add(client);
                var docs = Enumerable.Range(0, 40).Select(i => $"document:lone-leave-{c}-{i}").ToArray();
                foreach (var doc in docs)
                {
                    Assert.True((await client.JoinAsync(doc, "editor")).Success);
                }
                // Lock round trips on its documents until the node closes the connection; each refusal is recorded.
                workers.Add(Task.Run(async () =>
                {
                    for (var i = 0; !client.Closed.IsCompleted; i++)
                    {
                        HubResponse response;
                        try
                        {
                            var doc = docs[i % docs.Length];
                            response = await client.AcquireLockAsync(doc);
                            if (response.Success)
                            {
                                response = await client.ReleaseLockAsync(doc);
                            }
                        }
                        catch (Exception)
                        {
                            // The connection went away under the invocation: the node closed it.
                            return;
                        }
                        if (!response.Success)
                        {
                            lock (refusals)
                            {
                                refusals.Add(response.Error!);
                            }
                        }
                    }
                }));
            }
            // At least one full round before the stop, so the worker is really running.
            Assert.True((await clients[0].HeartbeatAsync()).Success);

            var stopping = Stopwatch.StartNew();
            try
            {
                await node.StopAsync();
            }
            catch (TimeoutException)
            {
                Assert.Fail("the node had not exited 30 s after SIGTERM");
            }
            var stopped = stopping.Elapsed;
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            var log = ReadLog(dataDir);
            Assert.Contains(log, l => l.EventId == 3512); // "no other member is up": new requests refused
            Assert.Contains(log, l => l.EventId == 3510); // "every shard handed off"
            Assert.DoesNotContain(log, l => l.Message.Contains("Graceful shutdown of shard region timed out", StringComparison.Ordinal));
            Assert.True(stopped < TimeSpan.FromSeconds(20), $"the stop took {stopped.TotalSeconds:0.0} s, as long as the hand-off timeout");
            lock (refusals)
            {
                // Whatever was refused was refused as the node leaving, never as an ask that went unanswered.
                Assert.All(refusals, e => Assert.Equal(ErrorCodes.Unavailable, e.Code));
                Assert.DoesNotContain(refusals, e => e.Message.Contains("did not answer", StringComparison.Ordinal));
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private sealed record LogLine(int? EventId, string Message);

    private static List<LogLine> ReadLog(string dataDir)
    {
        var lines = new List<LogLine>();
        foreach (var file in Directory.GetFiles(Path.Combine(dataDir, "logs"), "*.ndjson"))
        {
            foreach (var line in File.ReadLines(file))
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                int? id = root.TryGetProperty("Properties", out var p) && p.TryGetProperty("EventId", out var e) && e.TryGetProperty("Id", out var i) ? i.GetInt32() : null;
                lines.Add(new LogLine(id, root.TryGetProperty("RenderedMessage", out var m) ? m.GetString() ?? "" : ""));
            }
        }
        return lines;
    }
}
