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
}
