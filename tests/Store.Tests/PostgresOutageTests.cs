using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Store.Tests;

/// <summary>
/// PostgreSQL goes away under a node whose clients are editing (a private cluster, stopped with pg_ctl and
/// started again): the node reports not_ready with the reason, keeps every connection, refuses new edits with
/// UNAVAILABLE once the audit buffer is full, and when PostgreSQL returns it recovers by itself, acknowledges
/// the edits that waited and writes every buffered audit event.
/// </summary>
public sealed class PostgresOutageTests
{
    private const int BufferCapacity = 40;

    [Fact]
    public async Task WhenPostgresStopsTheNodeFillsItsAuditBufferRefusesEditsAndRecoversEverythingWhenItReturns()
    {
        await using var pg = await PostgresTestServer.StartPrivateAsync();
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:Store"] = "postgres",
                ["ConnectionStrings:Collab"] = pg.ConnectionString,
                ["Collab:Postgres:ConnectTimeoutSeconds"] = "2",
                ["Collab:Audit:BufferCapacity"] = BufferCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // This test is about the audit buffer; the circuit breakers have their own (CircuitBreakerTests).
                ["Collab:Resilience:FailureThreshold"] = "100000",
            },
        });
        var audit = node.Services.GetRequiredService<IAuditSink>();

        // Five editors, each holding the lock of its own tab, in sync before the outage.
        var editors = new List<SimulatedEditor>();
        for (var i = 0; i < 5; i++)
        {
            var client = await node.ConnectAsync($"outage-user{i}");
            var editor = await SimulatedEditor.OpenAsync(client, $"document:outage/tab:t{i}");
            Assert.True((await editor.InsertAsync("note", 0, "before ")).Success);
            editors.Add(editor);
        }
        await node.FlushAuditAsync();
        Assert.Equal(HttpStatusCode.OK, (await node.Http.GetAsync("/ready")).StatusCode);

        await pg.StopAsync();
        var restarted = false;
        try
        {

        // Not ready, with the reason.
        var (status, ready) = await ReadyAsync(node);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("not_ready", ready.GetProperty("status").GetString());
        var storeCheck = ready.GetProperty("checks").GetProperty("store");
        Assert.Equal("unhealthy", storeCheck.GetProperty("status").GetString());
        Assert.Contains("PostgreSQL", storeCheck.GetProperty("description").GetString(), StringComparison.Ordinal);

        // Edits while the store is down are applied and broadcast, but their acknowledgement waits for durability.
        var waiting = new List<Task<HubResponse>>();
        for (var i = 0; i < 3; i++)
        {
            waiting.Add(editors[i].InsertAsync("note", 0, $"during{i} "));
        }
        // Audited API calls fill the rest of the buffer.
        for (var k = 0; k < BufferCapacity; k++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/capabilities");
            request.Headers.Add("X-Correlation-Id", $"outage-{k}");
            using var _ = await node.Http.SendAsync(request);
        }
        Assert.True(audit.IsSaturated, $"{audit.Pending}/{audit.Capacity}");

        // Full: a new edit is refused at once with UNAVAILABLE, naming the setting.
        var refused = await editors[4].InsertAsync("note", 0, "refused ");
        Assert.False(refused.Success);
        Assert.Equal("UNAVAILABLE", refused.Error!.Code);
        Assert.Contains("Collab:Audit:BufferCapacity", refused.Error.Message, StringComparison.Ordinal);
        (status, ready) = await ReadyAsync(node);
        var auditCheck = ready.GetProperty("checks").GetProperty("audit");
        Assert.Equal("unhealthy", auditCheck.GetProperty("status").GetString());
        Assert.Contains("Audit buffer is full", auditCheck.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(auditCheck.GetProperty("data").GetProperty("fill").GetDouble() >= 1.0);
        Assert.True(auditCheck.GetProperty("data").TryGetProperty("lastError", out _));
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        var metrics = await node.Http.GetStringAsync("/metrics");
        Assert.True(Metric(metrics, "collab_audit_buffer_fill_ratio") >= 1.0, metrics);
        Assert.True(Metric(metrics, "collab_audit_buffer_pending") >= BufferCapacity, metrics);
        Assert.True(Metric(metrics, "collab_audit_write_failures_total") >= 1, metrics);

        // Connections are kept.
        Assert.All(editors, e => Assert.Equal(HubConnectionState.Connected, e.Client.State));
        Assert.True((await editors[3].Client.HeartbeatAsync()).Success);

        await pg.StartAsync();
        restarted = true;

        // Recovery by itself: the waiting edits are acknowledged, the buffer drains, the node is ready again.
        var acked = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(acked, r => Assert.True(r.Success, r.Error?.Message));
        await node.FlushAuditAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, audit.Pending);
        (status, ready) = await ReadyAsync(node);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((await editors[4].InsertAsync("note", 0, "after ")).Success);
        Assert.All(editors, e => Assert.Equal(HubConnectionState.Connected, e.Client.State));

        // Every event buffered during the outage is in PostgreSQL.
        var http = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.HttpRequest, Limit = 1000 });
        var correlations = http.Select(e => e.Event.CorrelationId).ToHashSet();
        Assert.All(Enumerable.Range(0, BufferCapacity), k => Assert.Contains($"outage-{k}", correlations));
        var edits = await node.QueryAuditAsync(new AuditQuery { EventType = "EDIT", Limit = 1000 });
        for (var i = 0; i < 3; i++)
        {
            var revisions = edits.Where(e => e.Event.ResourceId == $"document:outage/tab:t{i}")
                .Select(e => ((JsonElement)e.Event.Details!["revision"]!).GetInt64()).ToHashSet();
            Assert.Contains(acked[i].NewRevision!.Value, revisions);
        }
        foreach (var editor in editors)
        {
            await editor.Client.DisposeAsync();
        }
        }
        finally
        {
            if (!restarted)
            {
                await pg.StartAsync(); // or the node's disposal waits for its store
            }
        }
    }

    private static double Metric(string text, string name) =>
        double.Parse(text.Split('\n').First(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal))
            .Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<(HttpStatusCode, JsonElement)> ReadyAsync(CollabTestNode node)
    {
        using var response = await node.Http.GetAsync("/ready");
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}

/// <summary>A node asked to stop while PostgreSQL is away does not hang on its audit buffer: it waits
/// Collab:Audit:ShutdownTimeout, then writes the events it could not store to its log.</summary>
public sealed class PostgresShutdownTests
{
    [Fact]
    public async Task ANodeStoppingWhilePostgresIsDownWritesItsUnstoredAuditEventsToItsLogWithinTheTimeout()
    {
        await using var pg = await PostgresTestServer.StartPrivateAsync();
        var dataDir = Directory.CreateTempSubdirectory("collab-shutdown-").FullName;
        try
        {
            var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
            {
                DataDir = dataDir,
                Settings =
                {
                    ["Collab:Store"] = "postgres",
                    ["ConnectionStrings:Collab"] = pg.ConnectionString,
                    ["Collab:Postgres:ConnectTimeoutSeconds"] = "1",
                    ["Collab:Audit:ShutdownTimeout"] = "00:00:02",
                },
            });
            await pg.StopAsync();
            for (var k = 0; k < 5; k++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/capabilities");
                request.Headers.Add("X-Correlation-Id", $"unstored-{k}");
                using var _ = await node.Http.SendAsync(request);
            }
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await node.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"stopping took {watch.Elapsed}");
            var log = string.Join('\n', Directory.GetFiles(Path.Combine(dataDir, "logs")).Select(File.ReadAllText));
            Assert.All(Enumerable.Range(0, 5), k => Assert.Contains($"unstored-{k}", log, StringComparison.Ordinal));
            Assert.Contains("Unwritten audit event", log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
