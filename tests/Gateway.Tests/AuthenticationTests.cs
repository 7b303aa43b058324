using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Web.Auth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Gateway.Tests;

public sealed class AuthenticationTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private CollabTestNode Node => fixture.Node;

    [Fact]
    public async Task ValidTokenConnectsAndReceivesConnectedWithSessionId()
    {
        await using var client = await Node.ConnectAsync(Ids.Unique("u"), "Dr. Valid", "doctor");

        Assert.Equal("Dr. Valid", client.Connected.GetProperty("username").GetString());
        Assert.Equal("doctor", client.Connected.GetProperty("role").GetString());
        Assert.False(string.IsNullOrEmpty(client.SessionId));
        var connects = await Node.QueryAuditAsync(new AuditQuery { UserId = client.UserId, EventType = AuditEventTypes.Connect });
        Assert.Single(connects);
    }

    [Fact]
    public async Task ExpiredTokenIsRefusedAndAudited()
    {
        var key = Node.Services.GetRequiredService<DevTokenIssuer>().Key;
        var now = DateTime.UtcNow;
        var token = Sign(new SigningCredentials(key, SecurityAlgorithms.RsaSha256), "expired-user", now.AddHours(-2), now.AddHours(-1));

        await AssertRefusedAsync(token, "token expired");
    }

    [Fact]
    public async Task WronglySignedTokenIsRefusedAndAudited()
    {
        using var rsa = RSA.Create(2048);
        var token = Sign(new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "collab-dev" }, SecurityAlgorithms.RsaSha256),
            "forger", DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddHours(1));

        await AssertRefusedAsync(token, "invalid signature");
    }

    [Fact]
    public async Task UnsignedAlgNoneTokenIsRefusedAndAudited()
    {
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");
        var payload = Base64UrlEncoder.Encode($$"""{"sub":"none-user","name":"Mallory","role":"admin","exp":{{exp}}}""");
        var token = $"{header}.{payload}.";

        await AssertRefusedAsync(token, "alg none");
    }

    [Fact]
    public async Task MissingTokenIsRefused()
    {
        using var response = await Node.Http.PostAsync("/hubs/collab/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("UNAUTHORIZED", problem.GetProperty("code").GetString());
        Assert.Equal("missing token", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task ProductionNodeAcceptsTokensSignedWithTheConfiguredKeyAndServesNoDevTokens()
    {
        using var rsa = RSA.Create(2048);
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:Profile"] = "production",
                ["Auth:PublicKeyPem"] = rsa.ExportSubjectPublicKeyInfoPem(),
                ["Auth:Issuer"] = "https://idp.hospital.example",
            },
        });
        var credentials = new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);

        using var devToken = await node.Http.PostAsJsonAsync("/dev/token", new { userId = "x", username = "x", role = "doctor" });
        Assert.Equal(HttpStatusCode.NotFound, devToken.StatusCode);

        var good = Sign(credentials, "prod-user", DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddHours(1), "https://idp.hospital.example");
        await using var client = await CollabTestClient.ConnectAsync(node.BaseUrl, good);
        Assert.Equal("prod-user", client.UserId);

        var wrongIssuer = Sign(credentials, "prod-user", DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddHours(1), "https://evil.example");
        var refused = await Assert.ThrowsAsync<HubConnectRefusedException>(() => CollabTestClient.ConnectAsync(node.BaseUrl, wrongIssuer));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var rejected = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.ConnectionRejected });
        Assert.Contains(rejected, e => Equals(e.Event.Details?["reason"]?.ToString(), "wrong issuer"));
    }

    private async Task AssertRefusedAsync(string token, string expectedReason)
    {
        // The hub never runs: the WebSocket upgrade itself is answered 401.
        var refused = await Assert.ThrowsAsync<HubConnectRefusedException>(() => CollabTestClient.ConnectAsync(Node.BaseUrl, token));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        // The reason is readable where a client can read a body (negotiate).
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hubs/collab/negotiate?negotiateVersion=1");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await Node.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("UNAUTHORIZED", problem.GetProperty("code").GetString());
        Assert.Contains(expectedReason, problem.GetProperty("detail").GetString());

        var rejected = await Node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.ConnectionRejected, Limit = 1000 });
        Assert.True(rejected.Count(e => e.Event.Details?["reason"]?.ToString()?.Contains(expectedReason, StringComparison.Ordinal) == true) >= 2,
            $"expected two CONNECTION_REJECTED events with reason '{expectedReason}'");
    }

    private static string Sign(SigningCredentials credentials, string userId, DateTime notBefore, DateTime expires, string? issuer = null) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", userId), new Claim("name", userId), new Claim("role", "doctor")]),
            NotBefore = notBefore,
            IssuedAt = notBefore,
            Expires = expires,
            Issuer = issuer,
            SigningCredentials = credentials,
        });
}
