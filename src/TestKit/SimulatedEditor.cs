using CollabAkka.Yjs;
using Microsoft.AspNetCore.SignalR;

namespace CollabAkka.TestKit;

/// <summary>
/// A simulated clinician typing: a <see cref="YDoc"/> of our engine kept in sync with one resource through a
/// <see cref="CollabTestClient"/> (join, doc:sync both ways, doc:update for every local edit, remote updates
/// applied as they arrive). Acknowledged revisions are recorded, so a test can check none is lost.
/// </summary>
public sealed class SimulatedEditor : IAsyncDisposable
{
    private readonly List<long> _acknowledged = [];

    private readonly Func<Task<CollabTestClient>>? _reconnect;
    private readonly string _mode;
    private readonly List<string> _visibleErrors = [];

    private SimulatedEditor(CollabTestClient client, string resourceId, string mode, Func<Task<CollabTestClient>>? reconnect)
    {
        Client = client;
        ResourceId = resourceId;
        _mode = mode;
        _reconnect = reconnect;
    }

    /// <summary>The current connection (replaced when the editor reconnects after <c>connection:closing</c> or a lost connection).</summary>
    public CollabTestClient Client { get; private set; }

    /// <summary>Times the editor moved to a new connection.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Refusals and failures the kit retried transparently (UNAVAILABLE, a connection that closed under an edit).</summary>
    public int TransparentRetries { get; private set; }

    /// <summary>What a real client would have had to handle (refusals other than the transparent ones above).</summary>
    public IReadOnlyList<string> VisibleErrors
    {
        get
        {
            lock (_visibleErrors)
            {
                return [.. _visibleErrors];
            }
        }
    }
    public string ResourceId { get; }
    public YDoc Doc { get; } = new();
    public IReadOnlyList<long> Acknowledged => _acknowledged;

    /// <summary>The lock granted with the join (an editor join that got it), else null.</summary>
    public System.Text.Json.JsonElement? JoinedLock { get; private set; }

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    /// <summary>
    /// Joins and syncs. With <paramref name="reconnect"/> (a new connection, to any node that is up), <see cref="EditAsync"/>
    /// behaves like the widget: on <c>connection:closing</c> or a lost connection it reconnects at once, rejoins, takes its
    /// lock back, resyncs and re-sends what was not acknowledged.
    /// </summary>
    public static async Task<SimulatedEditor> OpenAsync(CollabTestClient client, string resourceId, string mode = "editor",
        Func<Task<CollabTestClient>>? reconnect = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var editor = new SimulatedEditor(client, resourceId, mode, reconnect);
        await editor.JoinAsync().ConfigureAwait(false);
        await editor.SyncAsync().ConfigureAwait(false);
        return editor;
    }

    private async Task JoinAsync()
    {
        var joined = await Client.JoinAsync(ResourceId, _mode).ConfigureAwait(false);
        if (!joined.Success)
        {
            throw new InvalidOperationException($"join failed: {joined.Error}");
        }
        JoinedLock = joined.Data.TryGetProperty("lock", out var granted) && granted.ValueKind == System.Text.Json.JsonValueKind.Object
            ? granted.Clone()
            : null;
    }

    /// <summary>
    /// Types <paramref name="text"/> at the end of <paramref name="field"/> and makes sure it is acknowledged, reconnecting
    /// and re-sending transparently (see <see cref="OpenAsync"/>). True once the server acknowledged it durable; false when
    /// it could not within <paramref name="deadline"/> (recorded in <see cref="VisibleErrors"/>).
    /// </summary>
    public async Task<bool> EditAsync(string field, string text, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        byte[]? update = null;
        void Capture(object? sender, YUpdateEventArgs e) => update = e.Update;
        Doc.UpdateProduced += Capture;
        try
        {
            var t = Doc.GetText(field);
            t.Insert(t.Length, text);
        }
        finally
        {
            Doc.UpdateProduced -= Capture;
        }
        var resync = false;
        while (DateTime.UtcNow < until)
        {
            try
            {
                if (_reconnect is not null && (Client.Closing.IsCompleted || Client.Closed.IsCompleted))
                {
                    await MoveAsync(until).ConfigureAwait(false);
                    resync = true;
                }
                // After a move the resync sends everything the server lacks (this edit and any earlier unsent one).
                var response = resync ? await SyncAndSendAsync().ConfigureAwait(false) : await SendAsync(update!).ConfigureAwait(false);
                if (response.Success)
                {
                    return true;
                }
                if (response.Error!.Code != Messages.ErrorCodes.Unavailable)
                {
                    Visible($"{response.Error.Code}: {response.Error.Message}");
                    return false;
                }
            }
            catch (Exception ex) when (_reconnect is not null && ex is InvalidOperationException or HubException or IOException or TaskCanceledException or TimeoutException or NodeClosingException)
            {
                // The connection went away under the invocation (its node is stopping): move and re-send.
                resync = true;
                if (!Client.Closing.IsCompleted && !Client.Closed.IsCompleted)
                {
                    await Client.StopAsync().ConfigureAwait(false);
                }
            }
            TransparentRetries++;
            await Task.Delay(50).ConfigureAwait(false); // retry pacing, not synchronization
        }
        Visible($"edit not acknowledged within {deadline.TotalSeconds} s");
        return false;
    }

    private void Visible(string error)
    {
        lock (_visibleErrors)
        {
            _visibleErrors.Add(error);
        }
    }

    /// <summary>A new connection (elsewhere), rejoined, with the editor lock back (the old connection's detach may still be on its way).</summary>
    private async Task MoveAsync(DateTime until)
    {
        var old = Client;
        await old.DisposeAsync().ConfigureAwait(false);
        while (true)
        {
            try
            {
                Client = await _reconnect!().ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (ex is NodeClosingException or HttpRequestException or IOException or System.Net.WebSockets.WebSocketException or TimeoutException
                                           or InvalidOperationException && DateTime.UtcNow < until)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
        Reconnects++;
        await JoinAsync().ConfigureAwait(false);
        while (_mode == "editor" && JoinedLock is null && DateTime.UtcNow < until)
        {
            var acquired = await Client.AcquireLockAsync(ResourceId).ConfigureAwait(false);
            if (acquired.Success)
            {
                JoinedLock = acquired.Data.Clone();
                break;
            }
            TransparentRetries++;
            await Task.Delay(50).ConfigureAwait(false); // our old connection's lock is still attached there; it detaches on its disconnect
        }
    }

    private async Task<HubResponse> SyncAndSendAsync()
    {
        var sync = await Client.SyncAsync(ResourceId, Doc.EncodeStateVector()).ConfigureAwait(false);
        if (!sync.Success)
        {
            return sync;
        }
        Doc.ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
        var missing = Doc.EncodeStateAsUpdate(Convert.FromBase64String(sync.Data.GetProperty("stateVector").GetString()!));
        return missing.Length > 2 ? await SendAsync(missing).ConfigureAwait(false) : sync;
    }

    /// <summary>Step 1/2: apply what we lack, send what the server lacks.</summary>
    public async Task SyncAsync()
    {
        var sync = await Client.SyncAsync(ResourceId, Doc.EncodeStateVector()).ConfigureAwait(false);
        if (!sync.Success)
        {
            throw new InvalidOperationException($"sync failed: {sync.Error}");
        }
        Doc.ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
        var missing = Doc.EncodeStateAsUpdate(Convert.FromBase64String(sync.Data.GetProperty("stateVector").GetString()!));
        if (missing.Length > 2)
        {
            await SendAsync(missing).ConfigureAwait(false);
        }
    }

    /// <summary>Types into a text field and sends the edit; returns the server's answer.</summary>
    public async Task<HubResponse> InsertAsync(string field, int index, string text)
    {
        byte[]? update = null;
        void Capture(object? sender, YUpdateEventArgs e) => update = e.Update;
        Doc.UpdateProduced += Capture;
        try
        {
            Doc.GetText(field).Insert(index, text);
        }
        finally
        {
            Doc.UpdateProduced -= Capture;
        }
        return await SendAsync(update!).ConfigureAwait(false);
    }

    public async Task<HubResponse> SendAsync(byte[] update)
    {
        var response = await Client.UpdateAsync(ResourceId, update).ConfigureAwait(false);
        if (response.Success && response.NewRevision is { } revision)
        {
            lock (_acknowledged)
            {
                _acknowledged.Add(revision);
            }
        }
        return response;
    }

    /// <summary>Applies every <c>doc:update</c> event received so far for this resource.</summary>
    public async Task ApplyRemoteAsync(int count, TimeSpan? timeout = null)
    {
        for (var i = 0; i < count; i++)
        {
            var e = await Client.WaitForAsync("doc:update", b => b.GetProperty("resourceId").GetString() == ResourceId, timeout).ConfigureAwait(false);
            Doc.ApplyUpdate(Convert.FromBase64String(e.GetProperty("payload").GetProperty("update").GetString()!));
        }
    }
}
