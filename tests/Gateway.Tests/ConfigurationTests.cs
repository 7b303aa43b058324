using System.Diagnostics;
using CollabAkka.Messages;
using CollabAkka.Node.Configuration;

namespace CollabAkka.Gateway.Tests;

public sealed class ConfigurationTests
{
    private static string RepoFile(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CollabAkka.sln")))
        {
            dir = dir.Parent;
        }
        return Path.Combine([dir!.FullName, .. parts]);
    }

    [Fact]
    public void TheShippedResourcesFileLoadsAndResolvesTypesSubTypesAndRoles()
    {
        var catalog = ResourcesYamlLoader.LoadFile(RepoFile("config", "resources.yml"));

        var chart = catalog.Resolve(ResourceId.Parse("patient-chart:1/section:vitals"))!;
        Assert.Equal(3, chart.MaxConcurrentEditors);
        Assert.Equal(50, chart.MaxViewers);
        Assert.Equal(TimeSpan.FromSeconds(600), chart.LockTtl);
        Assert.Equal(TimeSpan.FromSeconds(30), chart.GracePeriod);

        var tab = catalog.Resolve(ResourceId.Parse("document:1/tab:x"))!;
        Assert.Equal(1, tab.MaxConcurrentEditors);
        Assert.Null(tab.MaxViewers);

        var prescription = catalog.Resolve(ResourceId.Parse("prescription:7"))!;
        Assert.False(prescription.For("nurse").CanEdit);
        Assert.True(prescription.For("doctor").CanEdit);
        Assert.True(prescription.For("admin").CanForceRelease);
        Assert.False(prescription.For("stranger").CanEdit);

        var unknown = catalog.Resolve(ResourceId.Parse("lab-result:1"))!;
        Assert.Equal(TimeSpan.FromSeconds(300), unknown.LockTtl);
    }

    [Theory]
    [InlineData("resourceTypes:\n  document:\n    maxEditors: 2\n", "resourceTypes.document.maxEditors", "3:5")]
    [InlineData("resourceTypes:\n  document:\n    maxConcurrentEditors: two\n", "resourceTypes.document.maxConcurrentEditors", "expected an integer")]
    [InlineData("resourceTypes:\n  document:\n    lockTTL: 2\n", "resourceTypes.document.lockTTL", "at least 5")]
    [InlineData("roles:\n  doctor: { canEdit: yes-please }\nresourceTypes: {}\n", "roles.doctor.canEdit", "true or false")]
    [InlineData("defaults:\n  gracePeriod: 30\n  colour: red\nresourceTypes: {}\n", "defaults.colour", "unknown key")]
    [InlineData("resourceTypes:\n  Bad_Type: {}\n", "resourceTypes.Bad_Type", "type name")]
    [InlineData("resourceTypes:\n  document:\n    subTypes:\n      tab:\n        subTypes: {}\n", "resourceTypes.document.subTypes.tab.subTypes", "unknown key")]
    public void AMalformedFileIsRefusedNamingTheKeyAndLine(string yaml, string key, string why)
    {
        var ex = Assert.Throws<ResourceConfigException>(() => ResourcesYamlLoader.Load(yaml, "resources.yml"));
        Assert.Contains(key, ex.Message);
        Assert.Contains(why, ex.Message);
        Assert.Matches(@"resources\.yml:\d+:\d+", ex.Message);
    }

    [Fact]
    public async Task TheNodeProcessRefusesToStartWithAMalformedFileAndNamesTheKey()
    {
        var dir = Directory.CreateTempSubdirectory("collab-config-");
        try
        {
            var bad = Path.Combine(dir.FullName, "resources.yml");
            await File.WriteAllTextAsync(bad, "resourceTypes:\n  document:\n    maxConcurrentEditors: 1\n    lockTtl: 300\n");
            var dll = Path.Combine(AppContext.BaseDirectory, "CollabAkka.Node.dll");
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { dll, "--urls", "http://127.0.0.1:0", "--Collab:Profile=embedded", $"--Collab:ResourcesFile={bad}", $"--Collab:DataDir={dir.FullName}" },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(2, process.ExitCode);
            var message = await stderr;
            Assert.Contains("resourceTypes.document.lockTtl", message);
            Assert.Contains(":4:", message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
