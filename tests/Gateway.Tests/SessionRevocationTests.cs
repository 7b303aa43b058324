using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// An administrator ends a user's sessions (POST /api/users/{id}/revoke-sessions): the user's open connections get
/// connection:closing (sessions_revoked) and are closed, their resources drop them, the old token is refused at the next
/// connect, a token issued afterwards connects, other users are untouched; only admins may do it, and it is audited.
/// </summary>
public sealed class SessionRevocationTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private CollabTestNode Node => fixture.Node;

    private async Task<HttpResponseMessage> RevokeAsync(string userId, string role)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{userId}/revoke-sessions");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await Node.GetTokenAsync(Ids.Unique("op"), "Operator", role));
        return await Node.Http.SendAsync(request);
    }

    [Fact]
    public async Task RevokingAUserClosesItsConnectionsRefusesItsOldTokensAndLeavesOthersAlone()
    {
        var userId = Ids.Unique("revoked");
        var doc = $"document:{Ids.Unique("rv")}";
        var oldToken = await Node.GetTokenAsync(userId, "Dr. Revoked", "doctor");
        await using var first = await CollabTestClient.ConnectAsync(Node.BaseUrl, oldToken);
        await using var second = await CollabTestClient.ConnectAsync(Node.BaseUrl, oldToken);
        await using var colleague = await Node.ConnectAsync(Ids.Unique("colleague"), "Dr. Colleague");
        Assert.True((await first.JoinAsync(doc, "editor")).Success);
        Assert.True((await colleague.JoinAsync(doc, "viewer")).Success);

        using (var forbidden = await RevokeAsync(userId, "doctor"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }
        using (var revoked = await RevokeAsync(userId, "admin"))
        {
            Assert.Equal(HttpStatusCode.Accepted, revoked.StatusCode);
            Assert.Equal("revoked", (await revoked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        foreach (var client in new[] { first, second })
        {
            var closing = await client.WaitForAsync("connection:closing");
            Assert.Equal("sessions_revoked", closing.GetProperty("reason").GetString());
            await client.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        // The resource dropped the revoked user; the colleague is still there and hears of it.
        await colleague.WaitForAsync("user:left", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == userId);
        Assert.Equal(Microsoft.AspNetCore.SignalR.Client.HubConnectionState.Connected, colleague.State);
        Assert.True((await colleague.HeartbeatAsync()).Success);

        // The old token no longer connects; one issued now does.
        var refused = await Assert.ThrowsAsync<HubConnectRefusedException>(() => CollabTestClient.ConnectAsync(Node.BaseUrl, oldToken));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var negotiate = new HttpRequestMessage(HttpMethod.Post, "/hubs/collab/negotiate?negotiateVersion=1"))
        {
            negotiate.Headers.Authorization = new AuthenticationHeaderValue("Bearer", oldToken);
            using var response = await Node.Http.SendAsync(negotiate);
            Assert.Contains("token revoked", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
        // A token issued from the next whole second on (iat has seconds) connects, e.g. one with a new role.
        var deadline = DateTime.UtcNow.AddSeconds(3);
        CollabTestClient? again = null;
        while (again is null)
        {
            try
            {
                again = await Node.ConnectAsync(userId, "Dr. Revoked", "nurse");
            }
            catch (HubConnectRefusedException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        await using (again)
        {
            Assert.Equal("nurse", again.Connected.GetProperty("role").GetString());
        }

        var audited = await Node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.SessionsRevoked, Limit = 1000 });
        Assert.Contains(audited, e => Equals(e.Event.Details?["userId"]?.ToString(), userId));
    }

    [Fact]
    public async Task ARevocationOutlivesARestartOfTheNode()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-revoke-").FullName;
        var userId = Ids.Unique("revoked");
        try
        {
            string oldToken;
            await using (var first = await CollabNodeProcess.StartAsync(dataDir))
            {
                oldToken = await first.GetTokenAsync(userId, "Dr. Revoked");
                await using (var open = await CollabTestClient.ConnectAsync(first.BaseUrl, oldToken))
                {
                    Assert.True((await open.HeartbeatAsync()).Success);
                }
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/users/{userId}/revoke-sessions");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await first.GetTokenAsync(Ids.Unique("op"), "Operator", "admin"));
                using var revoked = await first.Http.SendAsync(request);
                Assert.Equal(HttpStatusCode.Accepted, revoked.StatusCode);
                await first.StopAsync();
            }

            // The same data directory (and signing key): the old token is still well signed and unexpired, and still refused.
            await using var second = await CollabNodeProcess.StartAsync(dataDir);
            var refused = await Assert.ThrowsAsync<HubConnectRefusedException>(() => CollabTestClient.ConnectAsync(second.BaseUrl, oldToken));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            await using var colleague = await second.ConnectAsync(Ids.Unique("colleague"), "Dr. Colleague");
            Assert.True((await colleague.HeartbeatAsync()).Success);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
