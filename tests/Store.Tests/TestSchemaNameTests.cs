using CollabAkka.Node.Storage;
using CollabAkka.TestKit;

namespace CollabAkka.Store.Tests;

/// <summary>
/// Test schemas on a shared PostgreSQL: a labelled name is fresh on every call, so a run that drops "its" schema can
/// never drop the tables of another run on the same server (a CI run failed with <c>relation "resource_epochs" does
/// not exist</c> when names were a hash of the label); a keyed name is stable, so a restarted node finds its state.
/// </summary>
public sealed class TestSchemaNameTests
{
    [Fact]
    public void TheSameLabelGivesADifferentSchemaOnEveryCallThatTheStoreAccepts()
    {
        var first = PostgresTestServer.CreateSchemaName("cluster");
        var second = PostgresTestServer.CreateSchemaName("cluster");
        Assert.NotEqual(first, second);
        Assert.StartsWith("t_cluster_", first, StringComparison.Ordinal);
        foreach (var schema in new[] { first, second, PostgresTestServer.CreateSchemaName(), PostgresTestServer.CreateSchemaName("Odd-Label!/x") })
        {
            new PostgresStoreOptions { ConnectionString = "Host=127.0.0.1", Schema = schema }.Validate();
        }
    }

    [Fact]
    public void TheSameKeyGivesTheSameSchemaAndDifferentKeysDifferentOnes()
    {
        Assert.Equal(PostgresTestServer.SchemaNameFor("/tmp/node-a"), PostgresTestServer.SchemaNameFor("/tmp/node-a"));
        Assert.NotEqual(PostgresTestServer.SchemaNameFor("/tmp/node-a"), PostgresTestServer.SchemaNameFor("/tmp/node-b"));
    }
}
