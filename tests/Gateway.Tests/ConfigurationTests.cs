using System.Diagnostics;
using CollabAkka.Messages;
using CollabAkka.Node.Configuration;

namespace CollabAkka.Gateway.Tests;

public sealed class ConfigurationTests
{
    internal static string RepoFile(params string[] parts)
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

        // The specification's types, as written there.
        var chart = catalog.Resolve(ResourceId.Parse("patient-chart:1/section:vitals"))!;
        Assert.Equal(3, chart.MaxConcurrentEditors);
        Assert.Null(chart.MaxViewers);
        Assert.Equal(TimeSpan.FromSeconds(300), chart.LockTtl);
        Assert.Equal(TimeSpan.FromSeconds(30), chart.GracePeriod);
        var field = catalog.Resolve(ResourceId.Parse("surgery-management:or-1/field:notes"))!;
        Assert.Equal(5, field.MaxViewers);
        Assert.Equal(TimeSpan.FromSeconds(600), field.LockTtl);
        Assert.True(field.For("surgeon").CanForceRelease);
        Assert.False(field.For("nurse").CanEdit);
        Assert.True(field.For("nurse").CanView);
        var annotation = catalog.Resolve(ResourceId.Parse("document:1/annotation:a"))!;
        Assert.Equal(5, annotation.MaxConcurrentEditors);
        Assert.Null(annotation.MaxViewers);
        Assert.Equal("Annotation", annotation.DisplayName);

        // Our additions.
        var tab = catalog.Resolve(ResourceId.Parse("document:1/tab:x"))!;
        Assert.Equal(1, tab.MaxConcurrentEditors);
        Assert.Null(tab.MaxViewers);
        var prescription = catalog.Resolve(ResourceId.Parse("prescription:7"))!;
        Assert.False(prescription.For("nurse").CanEdit);
        Assert.True(prescription.For("doctor").CanEdit);
        Assert.True(prescription.For("admin").CanForceRelease);
        Assert.False(prescription.For("stranger").CanEdit);
        Assert.False(prescription.For("stranger").CanView);
        Assert.False(prescription.For("").CanView);
        Assert.Equal(TimeSpan.FromSeconds(15), prescription.GracePeriod);

        var unknown = catalog.Resolve(ResourceId.Parse("lab-result:1"))!;
        Assert.Equal(TimeSpan.FromSeconds(300), unknown.LockTtl);
        Assert.Equal(50, unknown.MaxViewers);
        Assert.True(unknown.For("doctor").CanEdit);
    }

    [Theory]
    [InlineData("resources:\n  document:\n    maxEditors: 2\n", "resources.document.maxEditors", "3:5")]
    [InlineData("resources:\n  document:\n    maxConcurrentEditors: two\n", "resources.document.maxConcurrentEditors", "expected an integer")]
    [InlineData("resources:\n  document:\n    lockTTL: 2\n", "resources.document.lockTTL", "at least 5")]
    [InlineData("resources:\n  document:\n    roles:\n      doctor: { canEdit: yes-please }\n", "resources.document.roles.doctor.canEdit", "true or false")]
    [InlineData("defaults:\n  gracePeriod: 30\n  colour: red\nresources: {}\n", "defaults.colour", "unknown key")]
    [InlineData("resources:\n  Bad_Type: {}\n", "resources.Bad_Type", "type name")]
    [InlineData("resources:\n  document:\n    subResources:\n      tab:\n        subResources: {}\n", "resources.document.subResources.tab.subResources", "unknown key")]
    [InlineData("resources:\n  document:\n    subResources:\n      tab:\n        independentLocks: maybe\n", "resources.document.subResources.tab.independentLocks", "true or false")]
    [InlineData("resources:\n  document:\n    lockTtl: 300\n", "resources.document.lockTtl", "did you mean 'lockTTL'?")]
    [InlineData("resourceTypes:\n  document: {}\n", "resourceTypes", "did you mean 'resources'?")]
    [InlineData("roles:\n  doctor: { canEdit: true }\nresources: {}\n", "roles", "defaults.roles")]
    [InlineData("resources:\n  document:\n    subTypes: {}\n", "resources.document.subTypes", "did you mean 'subResources'?")]
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
            await File.WriteAllTextAsync(bad, "resources:\n  document:\n    maxConcurrentEditors: 1\n    lockTtl: 300\n");
            var (exitCode, message) = await RefusedStart.RunAsync(bad, dir.FullName);

            Assert.Equal(2, exitCode);
            Assert.Contains("resources.document.lockTtl", message);
            Assert.Contains(":4:", message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
