using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using CollabAkka.Messages;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.TestKit;

/// <summary>An answer from the hub, as a client reads it.</summary>
public sealed record HubResponse(bool Success, string? RequestId, JsonElement Data, HubError? Error, long? NewRevision, DateTimeOffset Timestamp);

public sealed record HubError(string Code, string Message, JsonElement Details);

/// <summary>The node turned a new connection away because it is shutting down (it sent <c>connection:closing</c>).</summary>
public sealed class NodeClosingException(Uri node) : Exception($"{node} is shutting down (connection:closing); connect to another node.");

/// <summary>
/// A simulated client: the real SignalR .NET hub client over a real WebSocket. Records every server
/// event so a test can await the one it expects instead of sleeping.
/// </summary>
public sealed class CollabTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HubConnection _connection;
    private readonly List<ReceivedEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<JsonElement> _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requests;

    private CollabTestClient(HubConnection connection)
    {
        _connection = connection;
        foreach (var name in EventNames.All)
        {
            connection.On<JsonElement>(name, body => Record(name, body));
        }
        connection.Closed += error =>
        {
            _closed.TrySetResult(error);
            return Task.CompletedTask;
        };
    }

    /// <summary>The <c>connected</c> event's body.</summary>
    public JsonElement Connected { get; private set; }

    public string SessionId => Connected.GetProperty("sessionId").GetString()!;

    public string UserId => Connected.GetProperty("userId").GetString()!;

    public HubConnectionState State => _connection.State;

    /// <summary>Completes when the server or the network closes the connection (with the error, if any).</summary>
    public Task<Exception?> Closed => _closed.Task;

    /// <summary>Completes with the <c>connection:closing</c> body when the node announces it closes this connection (graceful leave).</summary>
    public Task<JsonElement> Closing => _closing.Task;

    public static async Task<CollabTestClient> ConnectAsync(Uri baseUrl, string token, CancellationToken cancellationToken = default)
    {
        var client = await StartAsync(baseUrl, token, cancellationToken).ConfigureAwait(false);
        var connected = client.WaitForAsync(EventNames.Connected);
        if (await Task.WhenAny(connected, client.Closing, client.Closed).ConfigureAwait(false) != connected)
        {
            // A draining node answers a new connection with connection:closing and closes it.
            await client.DisposeAsync().ConfigureAwait(false);
            throw new NodeClosingException(baseUrl);
        }
        client.Connected = await connected.ConfigureAwait(false);
        return client;
    }

    /// <summary>Starts without waiting for <c>connected</c> (for refusals that close the connection at once).</summary>
    public static async Task<CollabTestClient> StartAsync(Uri baseUrl, string? token, CancellationToken cancellationToken = default)
    {
        // The real SignalR .NET client over WebSockets, the token as access_token (what browsers send), no negotiate
        // round trip: the upgrade request itself is authenticated, so a refusal is its HTTP status.
        var connection = TestHubProtocol.Apply(new HubConnectionBuilder())
            .WithUrl(new Uri(baseUrl, "/hubs/collab"), HttpTransportType.WebSockets, o =>
            {
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult(token);
                o.WebSocketConfiguration = ws => ws.CollectHttpResponseDetails = true;
            })
            .Build();
        var client = new CollabTestClient(connection);
        try
        {
            await connection.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException ex) when (RefusalStatus(ex) is { } status)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new HubConnectRefusedException(status, ex);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return client;
    }

    // "The server returned status code '401' when status code '101' was expected."
    private static HttpStatusCode? RefusalStatus(WebSocketException ex)
    {
        var match = System.Text.RegularExpressions.Regex.Match(ex.Message, @"status code '(\d{3})'");
        return match.Success ? (HttpStatusCode)int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private sealed class ReceivedEvent(string name, JsonElement body)
    {
        public string Name { get; } = name;
        public JsonElement Body { get; } = body;
        public bool Consumed { get; set; }
    }

    private void Record(string name, JsonElement body)
    {
        TaskCompletionSource changed;
        lock (_events)
        {
            _events.Add(new ReceivedEvent(name, body.Clone()));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
        if (name == EventNames.ConnectionClosing)
        {
            // As the widget does: the node closes us next, so close now (a SimulatedEditor then reconnects elsewhere).
            _closing.TrySetResult(body.Clone());
            _ = _connection.StopAsync();
        }
    }

    /// <summary>Every event received so far, in order.</summary>
    public IReadOnlyList<(string Name, JsonElement Body)> Events
    {
        get
        {
            lock (_events)
            {
                return _events.Select(e => (e.Name, e.Body)).ToList();
            }
        }
    }

    /// <summary>Events of one name received so far.</summary>
    public IReadOnlyList<JsonElement> EventsNamed(string name) => Events.Where(e => e.Name == name).Select(e => e.Body).ToList();

    /// <summary>
    /// Waits for an event of this name (matching the predicate), including one that already arrived and
    /// was not taken by an earlier wait. Each event is returned by at most one wait.
    /// </summary>
    public async Task<JsonElement> WaitForAsync(string name, Func<JsonElement, bool>? predicate = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            Task changed;
            lock (_events)
            {
                foreach (var e in _events)
                {
                    if (!e.Consumed && e.Name == name && (predicate is null || predicate(e.Body)))
                    {
                        e.Consumed = true;
                        return e.Body;
                    }
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching '{name}' event within {(timeout ?? DefaultTimeout).TotalSeconds} s. Received: " +
                    string.Join(", ", Events.Select(e => e.Name)));
            }
        }
    }

    /// <summary>Invokes a hub method with one JSON argument; a requestId is added when missing.</summary>
    public async Task<HubResponse> InvokeAsync(string method, object request)
    {
        var element = JsonSerializer.SerializeToElement(request, Json);
        if (element.ValueKind == JsonValueKind.Object && !element.TryGetProperty("requestId", out _))
        {
            var dict = element.Deserialize<Dictionary<string, JsonElement>>(Json)!;
            dict["requestId"] = JsonSerializer.SerializeToElement($"r{Interlocked.Increment(ref _requests)}");
            element = JsonSerializer.SerializeToElement(dict, Json);
        }
        var raw = await _connection.InvokeAsync<JsonElement>(method, element).ConfigureAwait(false);
        return raw.Deserialize<HubResponse>(Json)!;
    }

    public Task<HubResponse> JoinAsync(string resourceId, string mode = "editor") =>
        InvokeAsync(MethodNames.Join, new { resourceId, mode });

    public Task<HubResponse> LeaveAsync(string resourceId) => InvokeAsync(MethodNames.Leave, new { resourceId });

    public Task<HubResponse> HeartbeatAsync() => InvokeAsync(MethodNames.Heartbeat, new { });

    public Task<HubResponse> AcquireLockAsync(string resourceId, double? ttlSeconds = null) =>
        InvokeAsync(MethodNames.LockAcquire, new { resourceId, ttlSeconds });

    public Task<HubResponse> ReleaseLockAsync(string resourceId) => InvokeAsync(MethodNames.LockRelease, new { resourceId });

    public Task<HubResponse> RenewLockAsync(string resourceId) => InvokeAsync(MethodNames.LockHeartbeat, new { resourceId });

    public Task<HubResponse> SyncAsync(string resourceId, byte[]? stateVector = null) =>
        InvokeAsync(MethodNames.DocSync, new { resourceId, stateVector = stateVector is null ? "" : Convert.ToBase64String(stateVector) });

    public Task<HubResponse> UpdateAsync(string resourceId, byte[] update) =>
        InvokeAsync(MethodNames.DocUpdate, new { resourceId, update = Convert.ToBase64String(update) });

    public Task<HubResponse> SaveFieldAsync(string resourceId, string field, object? value, long? revision) =>
        InvokeAsync(MethodNames.ResourceUpdate, new { resourceId, field, value, revision });

    public Task<HubResponse> ForceReleaseLockAsync(string resourceId, string reason, string? lockId = null) =>
        InvokeAsync(MethodNames.LockForceRelease, new { resourceId, reason, lockId });

    /// <summary>Closes the connection cleanly (the server sees a normal disconnect).</summary>
    public Task StopAsync() => _connection.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
