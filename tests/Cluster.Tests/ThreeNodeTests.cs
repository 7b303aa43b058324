using System.Text.Json;
using CollabAkka.TestKit;

namespace CollabAkka.Cluster.Tests;

/// <summary>Three real node processes on PostgreSQL, one cluster: clients on different nodes see one system.</summary>
public sealed class ThreeNodeFixture : IAsyncLifetime
{
    public CollabClusterProcesses Cluster { get; private set; } = null!;
    private string _connectionString = "";
    private string _schema = "";
    private DirectoryInfo? _resourcesDir;

    /// <summary>The resources.yml every node reads (Collab:ResourcesFile): the repository's, plus the type the reload test changes.</summary>
    public string ResourcesFile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _connectionString = await PostgresTestServer.SharedConnectionStringAsync();
        _schema = PostgresTestServer.CreateSchemaName("cluster");
        _resourcesDir = Directory.CreateTempSubdirectory("collab-cluster-resources-");
        ResourcesFile = Path.Combine(_resourcesDir.FullName, "resources.yml");
        await WriteResourcesAsync(clerkMayView: true);
        Cluster = await CollabClusterProcesses.StartAsync(3, _connectionString, _schema,
            "--Collab:Connections:InvocationsPerSecond=2000", "--Collab:Connections:InvocationBurst=4000",
            $"--Collab:ResourcesFile={ResourcesFile}");
    }

    /// <summary>Rewrites <see cref="ResourcesFile"/>: the repository's types and <c>reload-ward</c>, where role clerk may view or not.</summary>
    public async Task WriteResourcesAsync(bool clerkMayView)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CollabAkka.sln")))
        {
            dir = dir.Parent;
        }
        var yaml = await File.ReadAllTextAsync(Path.Combine(dir!.FullName, "config", "resources.yml"));
        var ward = $"resources:\n  reload-ward:\n    roles:\n      clerk: {{ canView: {(clerkMayView ? "true" : "false")} }}\n      nurse: {{ canEdit: true, canLock: true }}\n";
        await File.WriteAllTextAsync(ResourcesFile, yaml.Replace("resources:\n", ward, StringComparison.Ordinal));
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await PostgresTestServer.DropSchemaAsync(_connectionString, _schema);
        _resourcesDir?.Delete(recursive: true);
    }
}

public sealed class ThreeNodeTests(ThreeNodeFixture fixture) : IClassFixture<ThreeNodeFixture>
{
    private CollabClusterProcesses Cluster => fixture.Cluster;

    private static string Id(string prefix) => $"{prefix}{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task UsersOnDifferentNodesSeeEachOtherJoinAndInAllUsers()
    {
        var root = Id("document:pres-");
        await using var alice = await Cluster[0].ConnectAsync("alice", "Dr. Alice");
        await using var bob = await Cluster[1].ConnectAsync("bob", "Dr. Bob");
        await using var carol = await Cluster[2].ConnectAsync("carol", "Nurse Carol", "nurse");
        Assert.True((await alice.JoinAsync($"{root}/tab:a", "viewer")).Success);
        Assert.True((await bob.JoinAsync($"{root}/tab:a", "viewer")).Success);

        var joined = await alice.WaitForAsync("user:joined", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == "bob");
        Assert.Equal(2, joined.GetProperty("payload").GetProperty("userCount").GetInt32());
        Assert.True((await carol.JoinAsync($"{root}/tab:b", "viewer")).Success); // another child of the same parent

        foreach (var client in new[] { alice, bob, carol })
        {
            var all = await client.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 3);
            var users = all.GetProperty("payload").GetProperty("subResources").EnumerateArray()
                .SelectMany(s => s.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("userId").GetString())).Order().ToList();
            Assert.Equal(["alice", "bob", "carol"], users);
        }
        // Every node's clients were served by one owner: the state says which node and epoch.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{root}");
        request.Headers.Authorization = new("Bearer", await Cluster[2].GetTokenAsync("op", "Operator", "admin"));
        using var response = await Cluster[2].Http.SendAsync(request);
        var state = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains(state.GetProperty("ownerNodeId").GetString(), new[] { "n1", "n2", "n3" });
        Assert.True(state.GetProperty("epoch").GetInt64() >= 1);
        Assert.Equal(3, state.GetProperty("totalUsers").GetInt32());
    }

    [Fact]
    public async Task ALockRaceAcrossNodesHasExactlyOneWinnerEachRoundWithStrictlyIncreasingTokens()
    {
        var resource = Id("document:race-") + "/tab:a";
        await using var left = await Cluster[1].ConnectAsync("left", "Dr. Left");
        await using var right = await Cluster[2].ConnectAsync("right", "Dr. Right");
        Assert.True((await left.JoinAsync(resource, "viewer")).Success);
        Assert.True((await right.JoinAsync(resource, "viewer")).Success);
        var last = 0L;
        for (var round = 0; round < 500; round++)
        {
            var answers = await Task.WhenAll(left.AcquireLockAsync(resource), right.AcquireLockAsync(resource));
            var winners = answers.Where(a => a.Success).ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} winners");
            Assert.Equal("LOCK_HELD", answers.Single(a => !a.Success).Error!.Code);
            var token = winners[0].Data.GetProperty("fencingToken").GetInt64();
            Assert.True(token > last, $"round {round}: token {token} after {last}");
            last = token;
            var winner = answers[0].Success ? left : right;
            Assert.True((await winner.ReleaseLockAsync(resource)).Success);
        }
    }

    [Fact]
    public async Task EditorsOnDifferentNodesConverge()
    {
        var doc = Id("patient-chart:co-");
        var editors = new List<SimulatedEditor>();
        for (var i = 0; i < 3; i++)
        {
            editors.Add(await SimulatedEditor.OpenAsync(await Cluster[i].ConnectAsync($"ed{i}", $"Dr. Ed {i}"), doc));
        }
        for (var round = 0; round < 10; round++)
        {
            var acks = await Task.WhenAll(editors.Select((e, i) => e.InsertAsync("notes", 0, $"[{i}.{round}]")));
            Assert.All(acks, a => Assert.True(a.Success, a.Error?.Message));
        }
        // Each editor receives the others' 20 updates, wherever the entity runs.
        await Task.WhenAll(editors.Select(e => e.ApplyRemoteAsync(20, TimeSpan.FromSeconds(30))));
        var texts = editors.Select(e => e.Doc.GetText("notes").ToString()).ToList();
        Assert.All(texts, t => Assert.Equal(texts[0], t));
        Assert.Equal(30, texts[0].Count(c => c == '['));
    }

    [Fact]
    public async Task EveryNodesMetricsShowTheMembersItsShardsAndTheEventsThatCrossNodes()
    {
        var root = Id("document:metrics-");
        await using var alice = await Cluster[0].ConnectAsync("m-alice", "Dr. Alice");
        await using var bob = await Cluster[1].ConnectAsync("m-bob", "Dr. Bob");
        await using var carol = await Cluster[2].ConnectAsync("m-carol", "Dr. Carol");
        foreach (var client in new[] { alice, bob, carol })
        {
            Assert.True((await client.JoinAsync($"{root}/tab:a", "viewer")).Success);
        }
        await alice.WaitForAsync("resource:all_users", e => e.GetProperty("payload").GetProperty("totalCount").GetInt32() == 3);

        // At least two of the three clients are on a node that does not own the entity: their events crossed nodes.
        var scrapes = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Cluster[i].Http.GetStringAsync("/metrics")));
        Assert.All(scrapes, m => Assert.Equal(3, Metric(m, "collab_cluster_members{status=\"up\"}")));
        Assert.All(scrapes, m => Assert.Equal(0, Metric(m, "collab_cluster_unreachable_members")));
        Assert.Equal(1, scrapes.Sum(m => Metric(m, "collab_cluster_is_leader")));
        Assert.True(scrapes.Sum(m => Metric(m, "collab_cluster_events_sent_total")) >= 2);
        Assert.True(scrapes.Sum(m => Metric(m, "collab_cluster_events_received_total")) >= 2);
        Assert.Equal(scrapes.Sum(m => Metric(m, "collab_cluster_events_received_total")),
            scrapes.Sum(m => Metric(m, "collab_cluster_event_delivery_seconds_count")));

        // The shard gauges are refreshed from the regions every 5 s: the entity's shard is counted by exactly one node.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var shards = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Cluster[i].Http.GetStringAsync("/metrics")));
            if (shards.Sum(m => Metric(m, "collab_cluster_shard_entities")) >= 1 && shards.Sum(m => Metric(m, "collab_cluster_shards")) >= 1)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "no node reported the entity's shard within 30 s");
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task RevokingAUserOnOneNodeClosesItsConnectionsOnEveryNodeAndEveryNodeRefusesItsOldToken()
    {
        var userId = Id("revoked-");
        var onTwo = await Cluster[1].GetTokenAsync(userId, "Dr. Revoked");
        var onThree = await Cluster[2].GetTokenAsync(userId, "Dr. Revoked");
        await using var second = await CollabTestClient.ConnectAsync(Cluster[1].BaseUrl, onTwo);
        await using var third = await CollabTestClient.ConnectAsync(Cluster[2].BaseUrl, onThree);

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{userId}/revoke-sessions");
        request.Headers.Authorization = new("Bearer", await Cluster[0].GetTokenAsync("op-revoke", "Operator", "admin"));
        using var response = await Cluster[0].Http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        foreach (var client in new[] { second, third })
        {
            Assert.Equal("sessions_revoked", (await client.WaitForAsync("connection:closing")).GetProperty("reason").GetString());
            await client.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        // Each node checks the replicated revocation itself (each test node signs its own dev tokens, so each is asked with its own).
        foreach (var (node, token) in new[] { (Cluster[1], onTwo), (Cluster[2], onThree) })
        {
            var refused = await Assert.ThrowsAsync<HubConnectRefusedException>(() => CollabTestClient.ConnectAsync(node.BaseUrl, token));
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }
    }

    [Fact]
    public async Task AResourceTypesReloadOnOneNodeIsActiveOnEveryNodeAndRemovesAMemberConnectedThroughAnother()
    {
        var ward = Id("reload-ward:w-") + "/bed:1";
        await using var clerk = await Cluster[1].ConnectAsync(Id("clerk-"), "Clerk", "clerk");
        await using var nurse = await Cluster[2].ConnectAsync(Id("nurse-"), "Nurse", "nurse");
        Assert.True((await clerk.JoinAsync(ward, "viewer")).Success);
        Assert.True((await nurse.JoinAsync(ward, "viewer")).Success);
        var before = await VersionOnAsync(0);

        await fixture.WriteResourcesAsync(clerkMayView: false);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/resource-types/reload");
            request.Headers.Authorization = new("Bearer", await Cluster[0].GetTokenAsync("op-reload", "Operator", "admin"));
            using var response = await Cluster[0].Http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            var version = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("version").GetString();
            Assert.NotEqual(before, version);

            // Every node reads the same file when told to: each reports the new version.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            for (var i = 0; i < 3; i++)
            {
                while (await VersionOnAsync(i) != version)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"node {i + 1} did not report version {version} within 30 s");
                    await Task.Delay(200);
                }
            }
            // The entity (wherever it runs) removed the clerk, who is connected through node 2, and told it so.
            var removed = await clerk.WaitForAsync("user:left",
                e => e.GetProperty("payload").GetProperty("user").GetProperty("sessionId").GetString() == clerk.SessionId, TimeSpan.FromSeconds(30));
            Assert.Equal("permission_revoked", removed.GetProperty("payload").GetProperty("reason").GetString());
            await nurse.WaitForAsync("user:left", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == clerk.UserId);
            Assert.Equal("PERMISSION_DENIED", (await clerk.JoinAsync(ward, "viewer")).Error!.Code);
        }
        finally
        {
            await fixture.WriteResourcesAsync(clerkMayView: true); // the file every node starts from again (a node restarted later reads it)
        }
    }

    private async Task<string?> VersionOnAsync(int index) =>
        JsonDocument.Parse(await Cluster[index].Http.GetStringAsync("/api/capabilities")).RootElement.GetProperty("resourceTypesVersion").GetString();

    private static double Metric(string scrape, string series)
    {
        var line = scrape.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"{series} is not in /metrics");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
