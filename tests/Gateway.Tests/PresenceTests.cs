using System.Text.Json;
using CollabAkka.TestKit;
using CollabAkka.Web.Hubs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

public sealed class PresenceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private CollabTestNode Node => fixture.Node;

    [Fact]
    public async Task JoinAnswersWithCurrentUsersAndRevisionAndTellsOthers()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await Node.ConnectAsync(Ids.Unique("alice"), "Dr. Alice", "doctor");
        await using var bob = await Node.ConnectAsync(Ids.Unique("bob"), "Nurse Bob", "nurse");

        var first = await alice.JoinAsync(doc, "editor");
        Assert.True(first.Success);
        Assert.Equal(0, first.Data.GetProperty("revision").GetInt64());
        Assert.Single(first.Data.GetProperty("users").EnumerateArray());

        var second = await bob.JoinAsync(doc, "viewer");
        Assert.True(second.Success);
        var users = second.Data.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("userId").GetString()).ToList();
        Assert.Equal([alice.UserId, bob.UserId], users);

        var joined = await alice.WaitForAsync("user:joined", e => e.GetProperty("resourceId").GetString() == doc);
        Assert.Equal(bob.UserId, joined.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString());
        Assert.Equal("viewer", joined.GetProperty("payload").GetProperty("user").GetProperty("mode").GetString());
        Assert.Equal(bob.UserId, joined.GetProperty("triggeredBy").GetProperty("userId").GetString());

        var leave = await bob.LeaveAsync(doc);
        Assert.True(leave.Success);
        var left = await alice.WaitForAsync("user:left", e => e.GetProperty("resourceId").GetString() == doc);
        Assert.Equal("left", left.GetProperty("payload").GetProperty("reason").GetString());
        Assert.Equal(1, left.GetProperty("payload").GetProperty("userCount").GetInt32());
    }

    [Fact]
    public async Task EventsAreSentToTheirRecipientsByLookupAndAClosedConnectionIsForgotten()
    {
        var manager = Assert.IsType<CollabHubLifetimeManager>(Node.Services.GetRequiredService<HubLifetimeManager<CollabHub>>());
        var doc = Ids.Unique("document:");
        var other = Ids.Unique("document:");
        await using var alice = await Node.ConnectAsync(Ids.Unique("alice"));
        await using var bob = await Node.ConnectAsync(Ids.Unique("bob"));
        var carol = await Node.ConnectAsync(Ids.Unique("carol"));
        var connected = manager.Count;
        Assert.True((await alice.JoinAsync(doc)).Success);
        Assert.True((await carol.JoinAsync(other)).Success);
        Assert.True((await bob.JoinAsync(doc)).Success);

        // Alice hears Bob's join; Carol, in another resource, hears nothing of it but her own resource's events.
        await alice.WaitForAsync("user:joined", e => e.GetProperty("resourceId").GetString() == doc);
        Assert.True((await alice.LeaveAsync(doc)).Success);
        await bob.WaitForAsync("user:left", e => e.GetProperty("resourceId").GetString() == doc);
        Assert.DoesNotContain(carol.Events, e => e.Body.TryGetProperty("resourceId", out var r) && r.GetString() == doc);

        await carol.DisposeAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (manager.Count != connected - 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20); // the server sees the close after the client does: poll with a deadline
        }
        Assert.Equal(connected - 1, manager.Count);
    }

    [Fact]
    public async Task DuplicateJoinIsAlreadyJoinedAndLeaveWithoutJoinIsNotJoined()
    {
        var doc = Ids.Unique("document:");
        await using var client = await Node.ConnectAsync(Ids.Unique("u"));

        var notJoined = await client.LeaveAsync(doc);
        Assert.False(notJoined.Success);
        Assert.Equal("NOT_JOINED", notJoined.Error!.Code);

        Assert.True((await client.JoinAsync(doc)).Success);
        var again = await client.JoinAsync(doc);
        Assert.False(again.Success);
        Assert.Equal("ALREADY_JOINED", again.Error!.Code);

        Assert.True((await client.LeaveAsync(doc)).Success);
        Assert.Equal("NOT_JOINED", (await client.LeaveAsync(doc)).Error!.Code);
    }

    [Fact]
    public async Task OneUserCanBeInManyResources()
    {
        await using var client = await Node.ConnectAsync(Ids.Unique("u"));
        var a = Ids.Unique("document:");
        var b = Ids.Unique("patient-chart:");
        Assert.True((await client.JoinAsync(a)).Success);
        Assert.True((await client.JoinAsync($"{a}/tab:diagnosis")).Success);
        Assert.True((await client.JoinAsync(b, "viewer")).Success);
    }

    [Fact]
    public async Task ThreeUsersInThreeTabsAllReceiveAllUsersAndADisconnectUpdatesEveryone()
    {
        var root = Ids.Unique("document:999-");
        string[] tabs = ["diagnosis", "medication", "notes"];
        var clients = new List<CollabTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = await Node.ConnectAsync(Ids.Unique($"user{i}-"), $"User {i}", "doctor");
                clients.Add(client);
                Assert.True((await client.JoinAsync($"{root}/tab:{tabs[i]}")).Success);
            }

            // Everyone ends up seeing all three, grouped by tab.
            foreach (var client in clients)
            {
                var all = await client.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 3);
                var payload = all.GetProperty("payload");
                Assert.Equal(root, payload.GetProperty("parentResourceId").GetString());
                var groups = payload.GetProperty("subResources").EnumerateArray().ToDictionary(
                    g => g.GetProperty("subResourceId").GetString()!,
                    g => g.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("userId").GetString()).ToList());
                Assert.Equal(3, groups.Count);
                for (var i = 0; i < 3; i++)
                {
                    Assert.Equal([clients[i].UserId], groups[$"{root}/tab:{tabs[i]}"]);
                }
            }

            // The third closes its connection: the other two hear of it.
            await clients[2].StopAsync();
            foreach (var client in clients.Take(2))
            {
                var all = await client.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 2);
                var ids = all.GetProperty("payload").GetProperty("subResources").EnumerateArray()
                    .SelectMany(g => g.GetProperty("users").EnumerateArray()).Select(u => u.GetProperty("userId").GetString()).ToList();
                Assert.DoesNotContain(clients[2].UserId, ids);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task DisconnectRemovesTheUserEverywhereAndTellsTheOthers()
    {
        var a = Ids.Unique("document:");
        var b = Ids.Unique("radiology-report:");
        await using var watcher = await Node.ConnectAsync(Ids.Unique("w"));
        await using var leaver = await Node.ConnectAsync(Ids.Unique("l"));
        await watcher.JoinAsync(a);
        await watcher.JoinAsync(b, "viewer");
        await leaver.JoinAsync(a, "viewer");
        await leaver.JoinAsync(b, "viewer");

        await leaver.StopAsync();

        var leftA = await watcher.WaitForAsync("user:left", e => e.GetProperty("resourceId").GetString() == a);
        var leftB = await watcher.WaitForAsync("user:left", e => e.GetProperty("resourceId").GetString() == b);
        Assert.Equal("disconnected", leftA.GetProperty("payload").GetProperty("reason").GetString());
        Assert.Equal(leaver.UserId, leftB.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString());
        using var state = await Node.Http.GetAsync($"/api/resources/{a}");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, state.StatusCode); // operators only
    }

    [Fact]
    public async Task MaxViewersRefusesTheNextViewer()
    {
        // radiology-report admits 25 viewers (config/resources.yml).
        var report = Ids.Unique("radiology-report:");
        var clients = new List<CollabTestClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                clients.Add(await Node.ConnectAsync(Ids.Unique($"v{i}-"), role: "viewer"));
            }
            // 25 viewer slots: 5 users x 5 connections (the default per-user limit).
            var connections = new List<CollabTestClient>(clients);
            for (var i = 0; i < 5; i++)
            {
                for (var j = 1; j < 5; j++)
                {
                    connections.Add(await Node.ConnectAsync(clients[i].UserId, role: "viewer"));
                }
            }
            foreach (var c in connections)
            {
                Assert.True((await c.JoinAsync(report, "viewer")).Success);
            }
            await using var late = await Node.ConnectAsync(Ids.Unique("late"), role: "viewer");
            var refused = await late.JoinAsync(report, "viewer");
            Assert.False(refused.Success);
            Assert.Equal("MAX_VIEWERS_REACHED", refused.Error!.Code);
            Assert.Equal(25, refused.Error.Details.GetProperty("maxViewers").GetInt32());
            clients = connections;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task RoleWithoutCanEditJoinsAsViewerAndIsToldWhy()
    {
        await using var nurse = await Node.ConnectAsync(Ids.Unique("nurse"), "Nurse Joy", "nurse");
        var response = await nurse.JoinAsync(Ids.Unique("prescription:"), "editor");

        Assert.True(response.Success);
        Assert.Equal("viewer", response.Data.GetProperty("mode").GetString());
        Assert.Equal("editor", response.Data.GetProperty("requestedMode").GetString());
        Assert.Contains("nurse", response.Data.GetProperty("modeReason").GetString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("document")]
    [InlineData("document:")]
    [InlineData("Document:1")]
    [InlineData("document:1/tab:x/more:y")]
    [InlineData("document:1/")]
    [InlineData("document:a b")]
    [InlineData("document:1;drop table")]
    [InlineData(":1")]
    public async Task InvalidResourceIdsAreRefusedWithValidationFailed(string resourceId)
    {
        await using var client = await Node.ConnectAsync(Ids.Unique("u"));
        var response = await client.JoinAsync(resourceId);
        Assert.False(response.Success);
        Assert.Equal("VALIDATION_FAILED", response.Error!.Code);
        Assert.Equal("resourceId", response.Error.Details.GetProperty("field").GetString());
        Assert.True((await client.HeartbeatAsync()).Success); // the connection survives
    }

    [Fact]
    public async Task MalformedRequestsAreRefusedAndTheConnectionSurvives()
    {
        await using var client = await Node.ConnectAsync(Ids.Unique("u"));
        var badMode = await client.InvokeAsync("resource:join", new { resourceId = "document:1", mode = "owner" });
        Assert.Equal("VALIDATION_FAILED", badMode.Error!.Code);
        var wrongType = await client.InvokeAsync("resource:join", new { resourceId = 42 });
        Assert.Equal("VALIDATION_FAILED", wrongType.Error!.Code);
        var longId = await client.InvokeAsync("resource:join", new { resourceId = "document:1", requestId = new string('x', 500) });
        Assert.Equal("VALIDATION_FAILED", longId.Error!.Code);
        Assert.True((await client.HeartbeatAsync()).Success);
    }

    [Fact]
    public async Task EventsNeverReachAClientThatDidNotJoin()
    {
        var doc = Ids.Unique("document:");
        await using var outsider = await Node.ConnectAsync(Ids.Unique("outsider"));
        await using var a = await Node.ConnectAsync(Ids.Unique("a"));
        await using var b = await Node.ConnectAsync(Ids.Unique("b"));
        await a.JoinAsync($"{doc}/tab:one");
        await b.JoinAsync($"{doc}/tab:two");
        await a.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 2);
        await b.LeaveAsync($"{doc}/tab:two");
        await a.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 1);

        // Anything sent to the outsider before now would arrive before the answer to its own call.
        Assert.True((await outsider.HeartbeatAsync()).Success);
        Assert.Equal(["connected"], outsider.Events.Select(e => e.Name));
        // And a member of one tab gets the tab's own user events only for its tab.
        Assert.DoesNotContain(a.Events, e => e.Name is "user:joined" or "user:left" &&
            e.Body.GetProperty("resourceId").GetString() == $"{doc}/tab:two");
    }
}
