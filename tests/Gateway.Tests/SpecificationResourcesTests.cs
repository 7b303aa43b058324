using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Node.Configuration;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// The specification's resources.yml (spec/003, "Struttura Config File", copied verbatim into
/// Fixtures/spec-resources.yml): refused for its typo, accepted once corrected, and obeyed.
/// </summary>
public sealed class SpecificationResourcesTests
{
    private static readonly string SpecFile = ConfigurationTests.RepoFile("tests", "Gateway.Tests", "Fixtures", "spec-resources.yml");

    private static string CorrectedSpecFile()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("collab-spec-").FullName, "resources.yml");
        File.WriteAllText(path, File.ReadAllText(SpecFile).Replace("gracePerio:", "gracePeriod:", StringComparison.Ordinal));
        return path;
    }

    private static byte[] TextUpdate(string field, string text)
    {
        var doc = new YDoc();
        byte[]? update = null;
        doc.UpdateProduced += (_, e) => update = e.Update;
        doc.GetText(field).Insert(0, text);
        return update!;
    }

    [Fact]
    public void TheSpecificationsFileIsRefusedForItsTypoWithLineKeyAndSuggestion()
    {
        var ex = Assert.Throws<ResourceConfigException>(() => ResourcesYamlLoader.LoadFile(SpecFile));

        Assert.Contains("spec-resources.yml:100:3: defaults.gracePerio: unknown key; did you mean 'gracePeriod'?", ex.Message);
        Assert.Contains("(1 problem)", ex.Message); // nothing else in the specification's file is refused
    }

    [Fact]
    public async Task TheNodeProcessStopsOnTheSpecificationsFileNamingGracePerio()
    {
        var dir = Directory.CreateTempSubdirectory("collab-spec-node-");
        try
        {
            var (exitCode, message) = await RefusedStart.RunAsync(SpecFile, dir.FullName);

            Assert.Equal(2, exitCode);
            Assert.Contains("spec-resources.yml:100:3: defaults.gracePerio", message);
            Assert.Contains("did you mean 'gracePeriod'?", message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task WithTheTypoCorrectedASurgeonLocksAnOrFieldThatANurseCannotEdit()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:ResourcesFile"] = CorrectedSpecFile() },
        });
        var field = $"surgery-management:{Ids.Unique("or-")}/field:notes";
        await using var surgeon = await node.ConnectAsync("dr-house", "Dr. House", "surgeon");
        await using var nurse = await node.ConnectAsync("n-jones", "Nurse Jones", "nurse");

        var locked = await surgeon.JoinAsync(field, "editor");
        Assert.Equal("editor", locked.Data.GetProperty("mode").GetString());
        Assert.Equal(600, locked.Data.GetProperty("lock").GetProperty("ttlSeconds").GetDouble()); // surgery-management lockTTL
        Assert.True((await surgeon.UpdateAsync(field, TextUpdate("notes", "incision 10:02"))).Success);

        var joined = await nurse.JoinAsync(field, "editor");
        Assert.True(joined.Success); // canView (default for a listed role)
        Assert.Equal("viewer", joined.Data.GetProperty("mode").GetString());
        Assert.Equal("PERMISSION_DENIED", (await nurse.AcquireLockAsync(field)).Error!.Code);
        Assert.Equal("PERMISSION_DENIED", (await nurse.UpdateAsync(field, TextUpdate("notes", "x"))).Error!.Code);
        Assert.True((await nurse.SyncAsync(field)).Success);
    }

    [Fact]
    public async Task CapabilitiesListEveryTypeSubResourceAndRoleWithEffectiveSettings()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:ResourcesFile"] = CorrectedSpecFile() },
        });
        var caps = await node.Http.GetFromJsonAsync<JsonElement>(new Uri(node.BaseUrl, "/api/capabilities"));

        var types = caps.GetProperty("resourceTypes").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!);
        Assert.Equal(["document", "surgery-management", "patient-chart"], types.Keys);
        var surgery = types["surgery-management"];
        Assert.Equal("Surgery Management", surgery.GetProperty("displayName").GetString());
        Assert.Equal(10, surgery.GetProperty("maxViewers").GetInt32());
        Assert.Equal(30, surgery.GetProperty("gracePeriod").GetDouble()); // from the corrected defaults
        var subs = surgery.GetProperty("subResources").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!);
        Assert.Equal(["field", "vital-signs"], subs.Keys);
        Assert.Equal(5, subs["field"].GetProperty("maxViewers").GetInt32());
        Assert.Equal(600, subs["field"].GetProperty("lockTTL").GetDouble()); // inherited from the type
        Assert.True(subs["field"].GetProperty("independentLocks").GetBoolean());
        var nurse = subs["field"].GetProperty("roles").GetProperty("nurse");
        Assert.False(nurse.GetProperty("canEdit").GetBoolean());
        Assert.True(nurse.GetProperty("canView").GetBoolean());
        Assert.True(subs["field"].GetProperty("roles").GetProperty("surgeon").GetProperty("canForceRelease").GetBoolean());
        Assert.Null(types["patient-chart"].GetProperty("maxViewers").GetInt32OrNull());
        Assert.Equal(["admin", "anesthesiologist", "doctor", "nurse", "surgeon", "viewer"],
            caps.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!));
    }

    [Fact]
    public async Task ASubResourceWithoutIndependentLocksSharesItsParentsLock()
    {
        var dir = Directory.CreateTempSubdirectory("collab-shared-lock-");
        var file = Path.Combine(dir.FullName, "resources.yml");
        await File.WriteAllTextAsync(file, """
            resources:
              document:
                maxConcurrentEditors: 1
                subResources:
                  section:
                    independentLocks: false
                  annotation:
                    independentLocks: true
            defaults:
              roles:
                doctor: { canEdit: true, canLock: true }
            """);
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = { ["Collab:ResourcesFile"] = file } });
        var doc = Ids.Unique("document:");
        await using var alice = await node.ConnectAsync("alice", "Dr. Alice");
        await using var bob = await node.ConnectAsync("bob", "Dr. Bob");
        await using var carol = await node.ConnectAsync("carol", "Dr. Carol");

        Assert.Equal("editor", (await alice.JoinAsync($"{doc}/section:a", "editor")).Data.GetProperty("mode").GetString());
        var sibling = await bob.JoinAsync($"{doc}/section:b", "editor");
        Assert.Equal("viewer", sibling.Data.GetProperty("mode").GetString());
        Assert.Equal("LOCK_HELD", sibling.Data.GetProperty("lockDenied").GetProperty("code").GetString());
        var independent = await carol.JoinAsync($"{doc}/annotation:c", "editor");
        Assert.Equal("LOCK_HELD", independent.Data.GetProperty("lockDenied").GetProperty("code").GetString()); // it shares with the holder's section

        Assert.True((await alice.ReleaseLockAsync($"{doc}/section:a")).Success);
        Assert.True((await bob.AcquireLockAsync($"{doc}/section:b")).Success);
    }

    [Fact]
    public async Task IndependentSiblingsLockSeparately()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:ResourcesFile"] = CorrectedSpecFile() },
        });
        var doc = Ids.Unique("document:");
        await using var a = await node.ConnectAsync("s-a", "Dr. A", "surgeon");
        await using var b = await node.ConnectAsync("s-b", "Dr. B", "surgeon");

        Assert.Equal("editor", (await a.JoinAsync($"{doc}/section:a", "editor")).Data.GetProperty("mode").GetString());
        Assert.Equal("editor", (await b.JoinAsync($"{doc}/section:b", "editor")).Data.GetProperty("mode").GetString());
    }
}

internal static class JsonElementExtensions
{
    public static int? GetInt32OrNull(this JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : e.GetInt32();
}
