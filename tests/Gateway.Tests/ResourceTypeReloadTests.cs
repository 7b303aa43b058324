using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.TestKit;
using CollabAkka.Web.Sessions;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// POST /api/admin/resource-types/reload on one node: a valid file takes effect at once (joins, locks and the members
/// already in a resource), an invalid one is refused with VALIDATION_FAILED and the running one stays; admins only,
/// audited; the version in force is on /api/capabilities.
/// </summary>
public sealed class ResourceTypeReloadTests
{
    private const string Before = """
        resources:
          chart:
            roles:
              clerk: { canView: true }
              doctor: { canEdit: true, canLock: true }
              nurse: { canEdit: true, canLock: true }
        defaults:
          allowUnknownTypes: false
        """;

    // clerk may no longer view charts; doctor may still view but no longer edit.
    private const string After = """
        resources:
          chart:
            roles:
              clerk: { canView: false }
              doctor: { canEdit: false, canLock: false }
              nurse: { canEdit: true, canLock: true }
        defaults:
          allowUnknownTypes: false
        """;

    private static async Task<(CollabTestNode Node, string File)> StartAsync()
    {
        var dir = Directory.CreateTempSubdirectory("collab-reload-");
        var file = Path.Combine(dir.FullName, "resources.yml");
        await File.WriteAllTextAsync(file, Before);
        var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = { ["Collab:ResourcesFile"] = file } });
        return (node, file);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ReloadAsync(CollabTestNode node, string role)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/resource-types/reload");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await node.GetTokenAsync(Ids.Unique("op"), "Operator", role));
        using var response = await node.Http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static Task<string> ActiveVersionAsync(CollabTestNode node) => VersionAsync(node.Http);

    [Fact]
    public async Task AReloadThatTakesViewAndEditRightsRemovesMembersReleasesLocksAndRefusesNewJoins()
    {
        var (node, file) = await StartAsync();
        await using var _ = node;
        var chart = $"chart:{Ids.Unique("c")}/tab:notes";
        await using var clerk = await node.ConnectAsync(Ids.Unique("clerk"), "Clerk", "clerk");
        await using var doctor = await node.ConnectAsync(Ids.Unique("doctor"), "Dr. Lock", "doctor");
        await using var nurse = await node.ConnectAsync(Ids.Unique("nurse"), "Nurse Stay", "nurse");
        Assert.True((await clerk.JoinAsync(chart, "viewer")).Success);
        var doctorJoin = await doctor.JoinAsync(chart, "editor");
        Assert.Equal("editor", doctorJoin.Data.GetProperty("mode").GetString());
        Assert.True((await nurse.JoinAsync(chart, "viewer")).Success);
        var before = await ActiveVersionAsync(node);

        await File.WriteAllTextAsync(file, After);
        var (forbidden, _) = await ReloadAsync(node, "doctor");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        Assert.Equal(before, await ActiveVersionAsync(node)); // a refused caller changed nothing

        var (status, body) = await ReloadAsync(node, "admin");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("reloaded", body.GetProperty("status").GetString());
        Assert.Equal(before, body.GetProperty("previousVersion").GetString());
        var version = body.GetProperty("version").GetString()!;
        Assert.NotEqual(before, version);
        Assert.Equal(version, await ActiveVersionAsync(node));

        // The clerk is removed and told so; the others hear it leave.
        var removed = await clerk.WaitForAsync("user:left", e => e.GetProperty("payload").GetProperty("user").GetProperty("sessionId").GetString() == clerk.SessionId);
        Assert.Equal("permission_revoked", removed.GetProperty("payload").GetProperty("reason").GetString());
        await nurse.WaitForAsync("user:left", e => e.GetProperty("payload").GetProperty("user").GetProperty("userId").GetString() == clerk.UserId);
        // The node forgot the clerk's join: it is not re-registered if the entity moves.
        var session = node.Services.GetRequiredService<ConnectionRegistry>().All.Single(s => s.SessionId == clerk.SessionId);
        Assert.Null(session.JoinedMode(ResourceId.Parse(chart)));
        Assert.NotNull(node.Services.GetRequiredService<ConnectionRegistry>().All.Single(s => s.SessionId == nurse.SessionId).JoinedMode(ResourceId.Parse(chart)));
        // The doctor keeps viewing but loses the lock.
        var released = await nurse.WaitForAsync("lock:released");
        Assert.Equal("permission_revoked", released.GetProperty("payload").GetProperty("reason").GetString());
        await doctor.WaitForAsync("lock:released");

        var again = await clerk.JoinAsync(chart, "viewer");
        Assert.Equal("PERMISSION_DENIED", again.Error!.Code);
        Assert.False((await clerk.SyncAsync(chart)).Success);
        Assert.Equal("PERMISSION_DENIED", (await doctor.AcquireLockAsync(chart)).Error!.Code);
        Assert.True((await doctor.SyncAsync(chart)).Success);
        Assert.True((await nurse.AcquireLockAsync(chart)).Success);

        // The same file again changes nothing.
        var (sameStatus, same) = await ReloadAsync(node, "admin");
        Assert.Equal(HttpStatusCode.OK, sameStatus);
        Assert.Equal("unchanged", same.GetProperty("status").GetString());
        Assert.Equal(version, same.GetProperty("version").GetString());

        await node.FlushAuditAsync();
        var audited = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.ResourceTypesReloaded, Limit = 100 });
        Assert.Contains(audited, e => Equals(e.Event.Details?["version"]?.ToString(), version) && e.Event.Role == "admin");
    }

    [Fact]
    public async Task SighupReloadsTheFileAndTheNodeKeepsRunning()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var dir = Directory.CreateTempSubdirectory("collab-reload-hup-");
        try
        {
            var file = Path.Combine(dir.FullName, "resources.yml");
            await File.WriteAllTextAsync(file, Before);
            await using var node = await CollabNodeProcess.StartAsync(Path.Combine(dir.FullName, "data"), null, $"--Collab:ResourcesFile={file}");
            var before = await VersionAsync(node.Http);

            await File.WriteAllTextAsync(file, After);
            using (var hangup = Process.Start("kill", ["-HUP", node.ProcessId.ToString(CultureInfo.InvariantCulture)]))
            {
                await hangup.WaitForExitAsync();
            }
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await VersionAsync(node.Http) == before)
            {
                Assert.True(DateTime.UtcNow < deadline, "SIGHUP did not change the version within 30 s");
                await Task.Delay(100);
            }

            Assert.False(node.HasExited);
            await using var clerk = await node.ConnectAsync(Ids.Unique("clerk"), "Clerk", "clerk");
            Assert.Equal("PERMISSION_DENIED", (await clerk.JoinAsync($"chart:{Ids.Unique("c")}", "viewer")).Error!.Code);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<string> VersionAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("/api/capabilities")).RootElement.GetProperty("resourceTypesVersion").GetString()!;

    [Fact]
    public async Task AnInvalidFileIsRefusedWithTheLoadersMessageAndTheRunningConfigurationStays()
    {
        var (node, file) = await StartAsync();
        await using var _ = node;
        var before = await ActiveVersionAsync(node);

        await File.WriteAllTextAsync(file, After.Replace("canView: false", "canSee: false", StringComparison.Ordinal));
        var (status, problem) = await ReloadAsync(node, "admin");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("VALIDATION_FAILED", problem.GetProperty("code").GetString());
        Assert.Contains("canSee", problem.GetProperty("detail").GetString());
        Assert.Equal(before, problem.GetProperty("details").GetProperty("version").GetString());
        Assert.Equal(before, await ActiveVersionAsync(node));
        // The running configuration still lets the clerk in.
        await using var clerk = await node.ConnectAsync(Ids.Unique("clerk"), "Clerk", "clerk");
        Assert.True((await clerk.JoinAsync($"chart:{Ids.Unique("c")}", "viewer")).Success);

        await node.FlushAuditAsync();
        var refused = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.ResourceTypesReloadRefused, Limit = 100 });
        Assert.Contains(refused, e => e.Event.Details?["error"]?.ToString()?.Contains("canSee", StringComparison.Ordinal) == true);
    }
}
