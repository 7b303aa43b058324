using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Node.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Chooses the stores by <c>Collab:Store</c>: <c>sqlite</c> (default, one file in the data directory) or
/// <c>postgres</c> (<c>ConnectionStrings:Collab</c>, <c>Collab:Postgres</c>). Both implement the same ports and
/// pass the same conformance suite, so nothing above this line knows which one runs.
/// </summary>
public static class StoreRegistration
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>The database <c>Collab:Store</c> names; throws naming the setting when it is unknown or incomplete.</summary>
    public static ICollabDatabase CreateDatabase(IConfiguration configuration, CollabOptions collab, string dataDir)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(collab);
        switch (collab.Store.ToLowerInvariant())
        {
            case Sqlite:
                var sqlite = configuration.GetSection("Collab:Sqlite").Get<SqliteStoreOptions>() ?? new SqliteStoreOptions();
                sqlite.Validate();
                return new SqliteDatabase(Path.Combine(dataDir, "collab.db"), sqlite);
            case Postgres or "postgresql":
                var options = configuration.GetSection("Collab:Postgres").Get<PostgresStoreOptions>() ?? new PostgresStoreOptions();
                options.ConnectionString ??= configuration.GetConnectionString("Collab");
                var resilience = configuration.GetSection("Collab:Resilience").Get<StoreResilienceOptions>() ?? new StoreResilienceOptions();
                return new PostgresDatabase(options, new PostgresCircuits(resilience));
            default:
                throw new OptionsValidationException("Collab:Store", typeof(CollabOptions),
                    [$"Collab:Store '{collab.Store}' is not known; use '{Sqlite}' (default) or '{Postgres}'."]);
        }
    }

    /// <summary>Registers the database, the three stores and audit retention; returns the database so start-up can migrate it.</summary>
    public static ICollabDatabase AddCollabStores(this IServiceCollection services, IConfiguration configuration, CollabOptions collab, string dataDir)
    {
        var database = CreateDatabase(configuration, collab, dataDir);
        switch (database)
        {
            case SqliteDatabase sqlite:
                services.AddSingleton(sqlite);
                services.AddSingleton<ICollabDatabase>(sqlite);
                services.AddSingleton<IAuditStore, SqliteAuditStore>();
                services.AddSingleton<ILockStore, SqliteLockStore>();
                services.AddSingleton<IDocumentStore, SqliteDocumentStore>();
                services.AddSingleton<Web.Sessions.IRevocationStore, SqliteRevocationStore>();
                services.AddSingleton<IStoreCircuits, NoStoreCircuits>();
                if (sqlite.Options.CheckpointInterval > TimeSpan.Zero)
                {
                    services.AddSingleton(sqlite.Options);
                    services.AddSingleton<SqliteCheckpointService>();
                    services.AddHostedService(sp => sp.GetRequiredService<SqliteCheckpointService>());
                }
                break;
            case PostgresDatabase postgres:
                // Registered through a factory so the container disposes it (and its connection pool) with the node.
                services.AddSingleton(_ => postgres);
                services.AddSingleton<ICollabDatabase>(sp => sp.GetRequiredService<PostgresDatabase>());
                services.AddSingleton<IAuditStore, PostgresAuditStore>();
                services.AddSingleton<ILockStore, PostgresLockStore>();
                services.AddSingleton<IDocumentStore, PostgresDocumentStore>();
                services.AddSingleton<Web.Sessions.IRevocationStore, PostgresRevocationStore>();
                services.AddSingleton<IStoreCircuits>(postgres.Circuits);
                services.AddSingleton(postgres.Circuits.Options);
                break;
        }
        services.AddSingleton<StoreCircuitMetrics>();
        var retention = configuration.GetSection("Collab:Audit:Retention").Get<AuditRetentionOptions>() ?? new AuditRetentionOptions();
        retention.Validate();
        services.AddSingleton(retention);
        services.AddSingleton<AuditRetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditRetentionService>());
        return database;
    }
}
