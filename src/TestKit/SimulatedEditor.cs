using CollabAkka.Yjs;

namespace CollabAkka.TestKit;

/// <summary>
/// A simulated clinician typing: a <see cref="YDoc"/> of our engine kept in sync with one resource through a
/// <see cref="CollabTestClient"/> (join, doc:sync both ways, doc:update for every local edit, remote updates
/// applied as they arrive). Acknowledged revisions are recorded, so a test can check none is lost.
/// </summary>
public sealed class SimulatedEditor : IAsyncDisposable
{
    private readonly List<long> _acknowledged = [];

    private SimulatedEditor(CollabTestClient client, string resourceId)
    {
        Client = client;
        ResourceId = resourceId;
    }

    public CollabTestClient Client { get; }
    public string ResourceId { get; }
    public YDoc Doc { get; } = new();
    public IReadOnlyList<long> Acknowledged => _acknowledged;

    /// <summary>The lock granted with the join (an editor join that got it), else null.</summary>
    public System.Text.Json.JsonElement? JoinedLock { get; private set; }

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    public static async Task<SimulatedEditor> OpenAsync(CollabTestClient client, string resourceId, string mode = "editor")
    {
        var editor = new SimulatedEditor(client, resourceId);
        var joined = await client.JoinAsync(resourceId, mode).ConfigureAwait(false);
        if (!joined.Success)
        {
            throw new InvalidOperationException($"join failed: {joined.Error}");
        }
        if (joined.Data.TryGetProperty("lock", out var granted) && granted.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            editor.JoinedLock = granted.Clone();
        }
        await editor.SyncAsync().ConfigureAwait(false);
        return editor;
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
