using System.Net.Sockets;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;

namespace CollabAkka.Store.Tests;

/// <summary>One isolated database with its three stores; <see cref="OpenSecondWriterAsync"/> opens the same data through another pool (a second node).</summary>
public sealed class StoreSet(ICollabDatabase database, IDocumentStore documents, ILockStore locks, IAuditStore audit,
    Func<Task<StoreSet>> secondWriter, Func<Task> cleanup) : IAsyncDisposable
{
    public ICollabDatabase Database { get; } = database;
    public IDocumentStore Documents { get; } = documents;
    public ILockStore Locks { get; } = locks;
    public IAuditStore Audit { get; } = audit;

    public Task<StoreSet> OpenSecondWriterAsync() => secondWriter();

    public async ValueTask DisposeAsync() => await cleanup();
}

/// <summary>Makes fresh stores of one kind for the conformance suite.</summary>
public interface IStoreFactory
{
    Task<StoreSet> CreateAsync();

    /// <summary>Stores whose database cannot be reached at all.</summary>
    Task<StoreSet> CreateUnreachableAsync();
}

public sealed class SqliteStoreFactory : IStoreFactory
{
    public async Task<StoreSet> CreateAsync()
    {
        var dir = Directory.CreateTempSubdirectory("collab-store-").FullName;
        var path = Path.Combine(dir, "collab.db");
        var set = Open(path, () => Task.Run(() => Directory.Delete(dir, recursive: true)));
        await set.Database.MigrateAsync();
        return set;
    }

    public Task<StoreSet> CreateUnreachableAsync()
    {
        // The database "file" is a directory: every open fails inside SQLite.
        var dir = Directory.CreateTempSubdirectory("collab-store-").FullName;
        var path = Path.Combine(dir, "collab.db");
        Directory.CreateDirectory(path);
        return Task.FromResult(Open(path, () => Task.Run(() => Directory.Delete(dir, recursive: true))));
    }

    private static StoreSet Open(string path, Func<Task> cleanup)
    {
        var database = new SqliteDatabase(path);
        return new StoreSet(database, new SqliteDocumentStore(database), new SqliteLockStore(database), new SqliteAuditStore(database),
            () => Task.FromResult(Open(path, () => Task.CompletedTask)), cleanup);
    }
}

public sealed class PostgresStoreFactory : IStoreFactory
{
    public async Task<StoreSet> CreateAsync()
    {
        var connectionString = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName();
        var set = Open(connectionString, schema, owner: true);
        await set.Database.MigrateAsync();
        return set;
    }

    public Task<StoreSet> CreateUnreachableAsync()
    {
        // A loopback port nobody listens on: connections are refused at once.
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return Task.FromResult(Open($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres", "t_unreachable", owner: false));
    }

    public static StoreSet Open(string connectionString, string schema, bool owner)
    {
        var database = new PostgresDatabase(new PostgresStoreOptions { ConnectionString = connectionString, Schema = schema, ConnectTimeoutSeconds = 3 });
        return new StoreSet(database, new PostgresDocumentStore(database), new PostgresLockStore(database), new PostgresAuditStore(database),
            () => Task.FromResult(Open(connectionString, schema, owner: false)),
            async () =>
            {
                await database.DisposeAsync();
                if (owner)
                {
                    await PostgresTestServer.DropSchemaAsync(connectionString, schema);
                }
            });
    }
}
