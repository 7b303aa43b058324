using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

public sealed class ConnectionTests
{
    [Fact]
    public async Task TheSixthConnectionOfOneUserIsRefusedWithMaxConnectionsReached()
    {
        await using var node = await CollabTestNode.StartAsync();
        var token = await node.GetTokenAsync("busy-doctor");
        var open = new List<CollabTestClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                open.Add(await CollabTestClient.ConnectAsync(node.BaseUrl, token));
            }
            await using var sixth = await CollabTestClient.StartAsync(node.BaseUrl, token);
            var error = await sixth.WaitForAsync("error");
            Assert.Equal("MAX_CONNECTIONS_REACHED", error.GetProperty("code").GetString());
            Assert.Contains("MaxConnectionsPerUser", error.GetProperty("message").GetString());
            var closed = await sixth.Closed.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("MAX_CONNECTIONS_REACHED", closed?.Message);
            Assert.Empty(sixth.EventsNamed("connected"));

            // Closing one frees a slot.
            await open[0].DisposeAsync();
            open.RemoveAt(0);
            await WaitUntilAsync(async () => (await Stats(node)).GetProperty("totalConnections").GetInt32() == 4);
            open.Add(await CollabTestClient.ConnectAsync(node.BaseUrl, token));

            var rejected = await node.QueryAuditAsync(new AuditQuery { UserId = "busy-doctor", EventType = AuditEventTypes.ConnectionRejected });
            Assert.Single(rejected);
        }
        finally
        {
            foreach (var c in open)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task HeartbeatIsAcknowledgedWithTheSessionExpiry()
    {
        await using var node = await CollabTestNode.StartAsync();
        await using var client = await node.ConnectAsync("hb-user");
        var ack = await client.HeartbeatAsync();
        Assert.True(ack.Success);
        var serverTime = ack.Data.GetProperty("serverTime").GetDateTimeOffset();
        var expires = ack.Data.GetProperty("sessionExpiresAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromHours(1), expires - serverTime);
    }

    [Fact]
    public async Task AStaleConnectionIsSweptAndCleanedUpWhileAnActiveOneStays()
    {
        var clock = new ManualTimeProvider();
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Clock = clock });
        var doc = "document:sweep";
        await using var idle = await node.ConnectAsync("idle-user");
        await using var active = await node.ConnectAsync("active-user");
        Assert.True((await idle.JoinAsync(doc, "viewer")).Success);
        Assert.True((await active.JoinAsync(doc, "viewer")).Success);

        clock.Advance(TimeSpan.FromMinutes(40));
        Assert.True((await active.HeartbeatAsync()).Success);
        Assert.Equal(1, (await Stats(node)).GetProperty("staleConnections").GetInt32()); // idle is quiet, active just spoke
        clock.Advance(TimeSpan.FromMinutes(25)); // idle: 65 min quiet (> 60); active: 25 min

        await idle.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var left = await active.WaitForAsync("user:left", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == "idle-user");
        Assert.Equal("session_expired", left.GetProperty("payload").GetProperty("reason").GetString());
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, active.State);
        Assert.True((await active.HeartbeatAsync()).Success);

        var stats = await Stats(node);
        Assert.Equal(1, stats.GetProperty("totalConnections").GetInt32());
        var expired = await node.QueryAuditAsync(new AuditQuery { UserId = "idle-user", EventType = AuditEventTypes.SessionExpired });
        Assert.Single(expired);
    }

    [Fact]
    public async Task InvocationsAboveTheRateAreRefusedWithRateLimited()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Connections:InvocationsPerSecond"] = "1", ["Collab:Connections:InvocationBurst"] = "3" },
        });
        await using var client = await node.ConnectAsync("chatty");
        var results = new List<HubResponse>();
        for (var i = 0; i < 5; i++)
        {
            results.Add(await client.HeartbeatAsync());
        }
        var limited = results.Where(r => !r.Success).ToList();
        Assert.NotEmpty(limited);
        Assert.All(limited, r => Assert.NotNull(r.RequestId)); // matched to the request even when refused early
        Assert.All(limited, r => Assert.Equal("RATE_LIMITED", r.Error!.Code));
        Assert.Contains("InvocationsPerSecond", limited[0].Error!.Message);
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task StatsCountConnectionsUsersAndTransports()
    {
        await using var node = await CollabTestNode.StartAsync();
        await using var a1 = await node.ConnectAsync("stats-a");
        await using var a2 = await node.ConnectAsync("stats-a");
        await using var b = await node.ConnectAsync("stats-b");
        var stats = await Stats(node);
        Assert.Equal(3, stats.GetProperty("totalConnections").GetInt32());
        Assert.Equal(2, stats.GetProperty("uniqueUsers").GetInt32());
        Assert.Equal(3, stats.GetProperty("byTransport").GetProperty("WebSockets").GetInt32());
    }

    [Fact]
    public async Task MetricsExposeConnectionsInvocationsAndBuffersInPrometheusFormat()
    {
        await using var node = await CollabTestNode.StartAsync();
        await using var client = await node.ConnectAsync("metrics-user");
        await client.HeartbeatAsync();
        await client.JoinAsync("document:metrics", "viewer");
        await client.JoinAsync("document:metrics", "viewer"); // ALREADY_JOINED

        using var response = await node.Http.GetAsync("/metrics");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE collab_connections gauge", text);
        Assert.Contains("collab_connections 1\n", text);
        Assert.Contains("collab_hub_invocations_total{method=\"heartbeat\",outcome=\"ok\"} 1\n", text);
        Assert.Contains("collab_hub_invocations_total{method=\"resource:join\",outcome=\"ALREADY_JOINED\"} 1\n", text);
        Assert.Contains("collab_audit_buffer_capacity 10000\n", text);
        Assert.Contains("collab_document_commits_pending 0\n", text);
    }

    private static async Task<JsonElement> Stats(CollabTestNode node) =>
        await node.Http.GetFromJsonAsync<JsonElement>("/api/stats");

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        // Polls an HTTP view of state the client cannot be notified of (its own disconnect being processed).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Condition not met within 10 s.");
            }
            await Task.Delay(20);
        }
    }
}
