using System.Net.Http.Json;
using System.Text.Json;

namespace CollabAkka.TestKit;

/// <summary>
/// What a test does with a node over its public surface, whether the node runs in this process
/// (<see cref="CollabTestNode"/>) or as its own process (<see cref="CollabNodeProcess"/>): mint dev tokens, connect
/// SignalR clients, read entity state and content as an operator, read the membership. The invariant checks
/// (<see cref="ClusterInvariants"/>) take these, so they work against either kind of cluster.
/// </summary>
public interface ICollabNode
{
    Uri BaseUrl { get; }

    HttpClient Http { get; }

    /// <summary>Mints a dev token through <c>POST /dev/token</c> (signed with the node's dev key: in a TestKit cluster all nodes share one, so the token is good on every node).</summary>
    Task<string> GetTokenAsync(string userId, string? username = null, string role = "doctor");

    /// <summary>Connects a new client as this user and waits for its <c>connected</c> event.</summary>
    Task<CollabTestClient> ConnectAsync(string userId, string? username = null, string role = "doctor");

    /// <summary><c>GET /api/resources/{id}</c> as an operator (admin): the entity's state (owner, epoch, members, locks).</summary>
    Task<JsonElement> GetResourceStateAsync(string resourceId);

    /// <summary><c>GET /api/resources/{id}/content</c> as an operator (admin): the live document as JSON with its revision.</summary>
    Task<JsonElement> GetContentAsync(string resourceId);

    /// <summary>A GET of <paramref name="path"/> with an operator's (admin) dev token; the answer's JSON (fails on a non-success status).</summary>
    Task<JsonElement> GetAsOperatorAsync(string path);

    /// <summary>A POST of <paramref name="path"/> (no body) with an operator's (admin) dev token; the answer's JSON (fails on a non-success status).</summary>
    Task<JsonElement> PostAsOperatorAsync(string path);

    /// <summary><c>GET /cluster/members</c>: this node's view of the membership.</summary>
    Task<JsonElement> GetMembersAsync();
}

/// <summary>The HTTP side of <see cref="ICollabNode"/>, shared by both kinds of node.</summary>
internal sealed class CollabNodeEndpoint(HttpClient http)
{
    private string? _operatorToken;

    public HttpClient Http { get; } = http;

    public Uri BaseUrl => Http.BaseAddress!;

    public async Task<string> GetTokenAsync(string userId, string? username, string role)
    {
        using var response = await Http.PostAsJsonAsync("/dev/token", new { userId, username = username ?? userId, role }).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>().ConfigureAwait(false)).GetProperty("token").GetString()!;
    }

    public async Task<CollabTestClient> ConnectAsync(string userId, string? username, string role) =>
        await CollabTestClient.ConnectAsync(BaseUrl, await GetTokenAsync(userId, username, role).ConfigureAwait(false)).ConfigureAwait(false);

    public Task<JsonElement> GetAsOperatorAsync(string path) => SendAsOperatorAsync(HttpMethod.Get, path);

    public Task<JsonElement> PostAsOperatorAsync(string path) => SendAsOperatorAsync(HttpMethod.Post, path);

    private async Task<JsonElement> SendAsOperatorAsync(HttpMethod method, string path)
    {
        // Minted once per node (its dev key is kept across restarts).
        _operatorToken ??= await GetTokenAsync("operator", "Operator", "admin").ConfigureAwait(false);
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new("Bearer", _operatorToken);
        using var response = await Http.SendAsync(request).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            // The status for callers that branch on it; the problem document (its code) for whoever reads the failure.
            throw new HttpRequestException($"{method} {path} on {BaseUrl}: {(int)response.StatusCode} {body}", null, response.StatusCode);
        }
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public Task<JsonElement> GetMembersAsync() => Http.GetFromJsonAsync<JsonElement>("/cluster/members");
}
