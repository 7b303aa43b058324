using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Web.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

/// <summary>canView per role and type (resources.yml) and the host's authorization seam (Collab:Authorization).</summary>
public sealed class ReadPermissionTests
{
    private static string Token(CollabTestNode node, params Claim[] claims) =>
        node.Services.GetRequiredService<DevTokenIssuer>().IssueWithClaims(claims);

    private static async Task<HttpResponseMessage> GetAsync(CollabTestNode node, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await node.Http.SendAsync(request);
    }

    private static async Task<string> CodeOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString()!;

    [Fact]
    public async Task AnUnknownRoleCannotJoinOrSyncAndTheRefusalIsAudited()
    {
        await using var node = await CollabTestNode.StartAsync();
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var student = await node.ConnectAsync("student-1", "Sam", "student");

        var joined = await student.JoinAsync(doc, "viewer");
        Assert.Equal("PERMISSION_DENIED", joined.Error!.Code);
        Assert.Contains("student", joined.Error.Message);
        Assert.Equal("NOT_JOINED", (await student.SyncAsync(doc)).Error!.Code);

        await node.FlushAuditAsync();
        var denied = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.JoinDenied, ResourceId = doc });
        Assert.Equal("student-1", Assert.Single(denied).Event.UserId);
        Assert.Equal(HubConnectionStateOpen, student.State.ToString()); // the connection survives
    }

    private const string HubConnectionStateOpen = "Connected";

    [Fact]
    public async Task ATokenWithoutARoleCannotJoin()
    {
        await using var node = await CollabTestNode.StartAsync();
        var token = Token(node, new Claim("sub", "no-role"), new Claim("name", "No Role"));
        await using var client = await CollabTestClient.ConnectAsync(node.BaseUrl, token);

        var joined = await client.JoinAsync(Ids.Unique("patient-chart:"), "viewer");

        Assert.Equal("PERMISSION_DENIED", joined.Error!.Code);
        Assert.Contains("without a role", joined.Error.Message);
    }

    [Fact]
    public async Task KnownClinicalRolesStillViewAsBefore()
    {
        await using var node = await CollabTestNode.StartAsync();
        var doc = Ids.Unique("patient-chart:");
        foreach (var role in new[] { "doctor", "nurse", "admin", "viewer", "auditor", "surgeon", "anesthesiologist" })
        {
            await using var client = await node.ConnectAsync($"{role}-1", role, role);
            Assert.True((await client.JoinAsync(doc, "viewer")).Success, role);
            Assert.True((await client.SyncAsync(doc)).Success, role);
        }
    }

    [Fact]
    public async Task CanViewFalseRefusesJoinAndEveryHttpRead()
    {
        var dir = Directory.CreateTempSubdirectory("collab-canview-");
        var file = Path.Combine(dir.FullName, "resources.yml");
        await File.WriteAllTextAsync(file, """
            resources:
              chart:
                roles:
                  clerk: { canView: false }
            defaults:
              roles:
                clerk: { canView: true }
                doctor: { canEdit: true, canLock: true }
            """);
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:ResourcesFile"] = file,
                ["Collab:Http:HistoryRoles:0"] = "clerk",
                ["Collab:Http:OperatorRoles:0"] = "clerk",
            },
        });
        var token = await node.GetTokenAsync("clerk-1", "Clerk", "clerk");
        await using var clerk = await CollabTestClient.ConnectAsync(node.BaseUrl, token);

        Assert.Equal("PERMISSION_DENIED", (await clerk.JoinAsync("chart:1", "viewer")).Error!.Code);
        Assert.True((await clerk.JoinAsync("ledger:1", "viewer")).Success); // defaults: clerk may view other types
        foreach (var path in new[] { "/api/resources/chart:1/content", "/api/resources/chart:1/history", "/api/resources/chart:1" })
        {
            using var response = await GetAsync(node, path, token);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("PERMISSION_DENIED", await CodeOf(response));
        }
        using var allowed = await GetAsync(node, "/api/resources/ledger:1/content", token);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task ClaimModeOpensOnlyTheResourcePrefixesTheTokenLists()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Authorization:Mode"] = "claim" },
        });
        var p1 = Ids.Unique("patient-chart:p");
        var token = Token(node, new Claim("sub", "dr-a"), new Claim("name", "Dr. A"), new Claim("role", "doctor"),
            new Claim("collab_resources", JsonSerializer.Serialize(new[] { p1, "document:" })));
        await using var client = await CollabTestClient.ConnectAsync(node.BaseUrl, token);

        Assert.True((await client.JoinAsync(p1, "viewer")).Success);
        Assert.True((await client.JoinAsync($"{p1}/section:vitals", "viewer")).Success);
        Assert.True((await client.JoinAsync(Ids.Unique("document:"), "viewer")).Success);
        var other = await client.JoinAsync(p1 + "0", "viewer"); // a longer id is not under the prefix
        Assert.Equal("PERMISSION_DENIED", other.Error!.Code);
        using var content = await GetAsync(node, $"/api/resources/{p1}0/content", token);
        Assert.Equal(HttpStatusCode.Forbidden, content.StatusCode);

        var noClaim = await node.GetTokenAsync("dr-b", "Dr. B", "doctor");
        await using var b = await CollabTestClient.ConnectAsync(node.BaseUrl, noClaim);
        Assert.Equal("PERMISSION_DENIED", (await b.JoinAsync(p1, "viewer")).Error!.Code);
    }

    [Fact]
    public async Task CallbackModeAsksTheHostOnceAndCachesItsAnswer()
    {
        var calls = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var host = builder.Build();
        host.MapPost("/can-open", async (HttpContext http) =>
        {
            Interlocked.Increment(ref calls);
            var query = await JsonSerializer.DeserializeAsync<JsonElement>(http.Request.Body);
            var allowed = query.GetProperty("userId").GetString() == "dr-a" && query.GetProperty("rootResourceId").GetString()!.StartsWith("patient-chart:ok", StringComparison.Ordinal);
            return Results.Json(new { allowed, reason = allowed ? null : "not on this ward" });
        });
        await host.StartAsync();
        var url = host.Urls.First();

        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Authorization:Mode"] = "callback", ["Collab:Authorization:CallbackUrl"] = $"{url}/can-open" },
        });
        await using var a = await node.ConnectAsync("dr-a", "Dr. A");
        var ok = Ids.Unique("patient-chart:ok");
        Assert.True((await a.JoinAsync(ok, "viewer")).Success);
        Assert.True((await a.LeaveAsync(ok)).Success);
        Assert.True((await a.JoinAsync(ok, "viewer")).Success);
        Assert.Equal(1, Volatile.Read(ref calls)); // cached

        var refused = await a.JoinAsync(Ids.Unique("patient-chart:no"), "viewer");
        Assert.Equal("PERMISSION_DENIED", refused.Error!.Code);
        Assert.Contains("not on this ward", refused.Error.Message);

        await host.StopAsync();
        var down = await a.JoinAsync(Ids.Unique("patient-chart:ok"), "viewer");
        Assert.Equal("UNAVAILABLE", down.Error!.Code); // fails closed, not open
    }
}
