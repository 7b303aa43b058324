using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using CollabAkka.Node.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.TestKit;

/// <summary>Options for an in-process test node.</summary>
public sealed class CollabTestNodeOptions
{
    /// <summary>Drive the product's clock by hand (TTLs, sweeps, grace periods) instead of real time.</summary>
    public ManualTimeProvider? Clock { get; init; }

    /// <summary>Configuration keys to override, e.g. <c>["Collab:Connections:MaxConnectionsPerUser"] = "2"</c>.</summary>
    public IDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Data directory; a fresh temporary one (deleted on dispose) when null.</summary>
    public string? DataDir { get; init; }

    /// <summary>Kestrel's loopback port; a free one when null (a restarted cluster node keeps its port).</summary>
    public int? HttpPort { get; init; }
}

/// <summary>
/// A real node (Kestrel on a loopback port, the production wiring) started inside the test process.
/// Clients connect to it over real WebSockets with the SignalR client.
/// </summary>
public sealed class CollabTestNode : ICollabNode, IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsDataDir;
    private readonly HttpClient _http;
    private readonly CollabNodeEndpoint _endpoint;
    private (string ConnectionString, string Schema)? _ownedSchema;

    private CollabTestNode(WebApplication app, Uri baseUrl, string dataDir, bool ownsDataDir, ManualTimeProvider? clock)
    {
        _app = app;
        BaseUrl = baseUrl;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        Clock = clock;
        _http = new HttpClient { BaseAddress = baseUrl };
        _endpoint = new CollabNodeEndpoint(_http);
        ActorSystem = app.Services.GetRequiredService<Akka.Actor.ActorSystem>();
    }

    public Uri BaseUrl { get; }
    public string DataDir { get; }
    public ManualTimeProvider? Clock { get; }
    public IServiceProvider Services => _app.Services;
    public HttpClient Http => _http;

    /// <summary>The node's ActorSystem (cluster state, remoting; what <see cref="CollabTestCluster"/> partitions).</summary>
    public Akka.Actor.ActorSystem ActorSystem { get; }

    /// <summary>
    /// Completes when the node's ActorSystem has terminated: after a stop, or when the cluster downed this node (the
    /// split brain resolver on the minority side of a partition); the node then stops its host by itself.
    /// </summary>
    public Task Terminated => ActorSystem.WhenTerminated;

    public static async Task<CollabTestNode> StartAsync(CollabTestNodeOptions? options = null)
    {
        options ??= new CollabTestNodeOptions();
        var ownsDataDir = options.DataDir is null;
        var dataDir = options.DataDir ?? Path.Combine(Path.GetTempPath(), "collab-test-" + Guid.NewGuid().ToString("N")[..12]);
        var settings = new Dictionary<string, string?>
        {
            ["Collab:Profile"] = "embedded", // dev tokens; tests of the production profile set it themselves
            ["Collab:DataDir"] = dataDir,
            ["Collab:ConsoleLogs"] = "false",
            ["Collab:NodeId"] = "test-" + Guid.NewGuid().ToString("N")[..6],
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        // The store from the environment (TestStores); a test's own settings still win.
        foreach (var (key, value) in await TestStores.NodeSettingsAsync(dataDir).ConfigureAwait(false))
        {
            settings[key] = value;
        }
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }
        var app = CollabNodeBuilder.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.WebHost.UseUrls($"http://127.0.0.1:{options.HttpPort ?? 0}");
            if (options.Clock is not null)
            {
                builder.Services.AddKeyedSingleton<TimeProvider>(CollabTime.Key, options.Clock);
            }
        });
        await app.StartAsync().ConfigureAwait(false);
        // Ready means Up in the cluster (the embedded node joins itself a few hundred ms after start).
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(app.Services.GetRequiredService<Akka.Actor.ActorSystem>()).RegisterOnMemberUp(() => up.TrySetResult());
        try
        {
            await up.Task.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"Node {settings["Collab:NodeId"]} was not Up in its cluster within 60 s.");
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var node = new CollabTestNode(app, new Uri(address), dataDir, ownsDataDir, options.Clock);
        if (ownsDataDir && settings.GetValueOrDefault("Collab:Store") == "postgres" &&
            settings.GetValueOrDefault("ConnectionStrings:Collab") is { } cs && settings.GetValueOrDefault("Collab:Postgres:Schema") is { } schema &&
            !options.Settings.ContainsKey("Collab:Postgres:Schema"))
        {
            node._ownedSchema = (cs, schema);
        }
        return node;
    }

    public Task<string> GetTokenAsync(string userId, string? username = null, string role = "doctor") => _endpoint.GetTokenAsync(userId, username, role);

    public Task<CollabTestClient> ConnectAsync(string userId, string? username = null, string role = "doctor") => _endpoint.ConnectAsync(userId, username, role);

    public Task<JsonElement> GetResourceStateAsync(string resourceId) => _endpoint.GetAsOperatorAsync($"/api/resources/{resourceId}");

    public Task<JsonElement> GetContentAsync(string resourceId) => _endpoint.GetAsOperatorAsync($"/api/resources/{resourceId}/content");

    public Task<JsonElement> GetMembersAsync() => _endpoint.GetMembersAsync();

    public Task<JsonElement> GetAsOperatorAsync(string path) => _endpoint.GetAsOperatorAsync(path);

    public Task<JsonElement> PostAsOperatorAsync(string path) => _endpoint.PostAsOperatorAsync(path);

    /// <summary>Waits until every audit event recorded so far is in the store.</summary>
    public Task FlushAuditAsync() => Services.GetRequiredService<IAuditSink>().FlushAsync();

    public async Task<IReadOnlyList<StoredAuditEvent>> QueryAuditAsync(AuditQuery query)
    {
        await FlushAuditAsync().ConfigureAwait(false);
        return await Services.GetRequiredService<IAuditStore>().QueryAsync(query, CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_ownsDataDir)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        if (_ownedSchema is { } owned)
        {
            await PostgresTestServer.DropSchemaAsync(owned.ConnectionString, owned.Schema).ConfigureAwait(false);
        }
    }
}
