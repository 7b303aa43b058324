using CollabAkka.TestKit;

namespace CollabAkka.Store.Tests;

/// <summary>Node settings for one store kind, so node-level tests run against SQLite and PostgreSQL alike.</summary>
public static class NodeStores
{
    public static async Task<Dictionary<string, string?>> SettingsAsync(string store, string? schema = null) =>
        store == "postgres"
            ? new Dictionary<string, string?>
            {
                ["Collab:Store"] = "postgres",
                ["ConnectionStrings:Collab"] = await PostgresTestServer.SharedConnectionStringAsync(),
                ["Collab:Postgres:Schema"] = schema ?? PostgresTestServer.CreateSchemaName(),
            }
            : new Dictionary<string, string?> { ["Collab:Store"] = "sqlite" };

    public static async Task<CollabTestNode> StartNodeAsync(string store, IDictionary<string, string?>? extra = null)
    {
        var settings = await SettingsAsync(store);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = settings });
    }
}
