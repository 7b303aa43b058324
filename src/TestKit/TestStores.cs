namespace CollabAkka.TestKit;

/// <summary>
/// Which store test nodes use, from the environment, so the same suites run against SQLite (default) and
/// PostgreSQL: <c>COLLAB_TEST_STORE=postgres</c> (and <c>COLLAB_TEST_PG</c>, see <see cref="PostgresTestServer"/>).
/// In postgres mode each node gets its own schema, derived from its data directory: a fresh node gets a fresh
/// schema, and a node restarted on the same data directory finds its state again.
/// </summary>
public static class TestStores
{
    public const string StoreVariable = "COLLAB_TEST_STORE";

    public static bool UsePostgres =>
        string.Equals(Environment.GetEnvironmentVariable(StoreVariable), "postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>Configuration for a node keyed by <paramref name="dataDir"/>; empty in SQLite mode.</summary>
    public static async Task<IReadOnlyDictionary<string, string?>> NodeSettingsAsync(string dataDir)
    {
        if (!UsePostgres)
        {
            return new Dictionary<string, string?>();
        }
        var connectionString = await PostgresTestServer.SharedConnectionStringAsync().ConfigureAwait(false);
        return new Dictionary<string, string?>
        {
            ["Collab:Store"] = "postgres",
            ["ConnectionStrings:Collab"] = connectionString,
            ["Collab:Postgres:Schema"] = PostgresTestServer.SchemaNameFor(Path.GetFullPath(dataDir)),
        };
    }
}
