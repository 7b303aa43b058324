using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Node.Configuration;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace CollabAkka.Entities.Tests;

/// <summary>
/// A one-node cluster in the test's ActorSystem with the real resource shard region, real entity actors and real
/// SQLite stores (wrapped so a test can hold or fail a call), the product's clock replaced by a manual one.
/// </summary>
public sealed class EntityHarness : IAsyncDisposable
{
    public static readonly Config Config = ConfigurationFactory.ParseString($$"""
        akka.loglevel = INFO
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.cluster.min-nr-of-members = 1
        akka.actor.serializers.collab = "{{typeof(Serialization.CollabMessageSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings { "{{typeof(ICollabMessage).AssemblyQualifiedName}}" = collab }
        """);

    private readonly string _dir;

    private EntityHarness(ActorSystem system, string dir, SqliteDatabase database, EntityRuntime runtime, IActorRef region,
        GatedLockStore locks, GatedDocumentStore documents, RecordingEvents events, ManualTimeProvider clock, EntityCensus census)
    {
        System = system;
        _dir = dir;
        Database = database;
        Runtime = runtime;
        Region = region;
        Locks = locks;
        Documents = documents;
        Events = events;
        Clock = clock;
        Census = census;
    }

    public ActorSystem System { get; }
    public SqliteDatabase Database { get; }
    public EntityRuntime Runtime { get; }
    public IActorRef Region { get; }
    public GatedLockStore Locks { get; }
    public GatedDocumentStore Documents { get; }
    public RecordingEvents Events { get; }
    public ManualTimeProvider Clock { get; }
    public EntityCensus Census { get; }

    public static async Task<EntityHarness> StartAsync(ActorSystem system, EntityOptions? options = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "collab-entities-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        var database = new SqliteDatabase(Path.Combine(dir, "collab.db"));
        await database.MigrateAsync();
        var locks = new GatedLockStore(new SqliteLockStore(database));
        var documents = new GatedDocumentStore(new SqliteDocumentStore(database));
        var events = new RecordingEvents();
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        var census = new EntityCensus();
        var documentOptions = new DocumentOptions();
        var entityOptions = options ?? new EntityOptions { PassivateAfter = TimeSpan.FromMinutes(2), PassivationSweepInterval = TimeSpan.FromSeconds(30) };
        var committer = new DocumentCommitter(documents, documentOptions, NullLogger<DocumentCommitter>.Instance);
        var runtime = new EntityRuntime("node-test", new ResourceCatalogHolder(LoadCatalog(), clock.GetUtcNow()), clock, new RecordingAudit(), events, locks, documents, committer,
            documentOptions, entityOptions, NullLoggerFactory.Instance);

        var cluster = Cluster.Get(system);
        var up = new TaskCompletionSource();
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        cluster.Join(cluster.SelfAddress);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var region = await ClusterSharding.Get(system).StartAsync(ShardNames.Resources,
            entityId => ResourceEntityActor.PropsFor(entityId, runtime, census),
            ClusterShardingSettings.Create(system).WithPassivateIdleAfter(TimeSpan.Zero),
            new ResourceMessageExtractor(10),
            new LeastShardAllocationStrategy(1, 1),
            HandOffStop.Instance);
        system.ActorOf(EntityDeadLetterRedirect.Props(), EntityDeadLetterRedirect.Name);
        return new EntityHarness(system, dir, database, runtime, region, locks, documents, events, clock, census);
    }

    private static ResourceCatalog LoadCatalog()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CollabAkka.sln")))
        {
            dir = dir.Parent;
        }
        return ResourcesYamlLoader.LoadFile(Path.Combine(dir!.FullName, "config", "resources.yml"));
    }

    public Task<EntityReply> AskAsync(ResourceId resource, IEntityCommand command, TimeSpan? timeout = null) =>
        Region.Ask<EntityReply>(new EntityEnvelope(resource, Guid.NewGuid().ToString("N"), command), timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Through the node's router: straight to a local active entity, otherwise through the region.</summary>
    public Task<EntityReply> RouteAsync(ResourceId resource, IEntityCommand command) =>
        new ShardedEntityRouter(_ => Task.FromResult(Region), Runtime.Options, Census)
            .SendAsync(new EntityEnvelope(resource, Guid.NewGuid().ToString("N"), command));

    public void Tell(ResourceId resource, IEntityCommand command) =>
        Region.Tell(new EntityEnvelope(resource, "tell", command), ActorRefs.NoSender);

    public static MemberInfo Member(string connection, string user = "alice", string role = "doctor") =>
        new(connection, "sess-" + connection, user, "Dr. " + user, role, "node-test", "10.0.0.1", "tests");

    /// <summary>The epoch the store holds for a root now (0: never claimed).</summary>
    public async Task<long> StoredEpochAsync(string root)
    {
        await using var connection = await Database.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT COALESCE((SELECT epoch FROM resource_epochs WHERE root_id = $root), 0)";
        select.Parameters.AddWithValue("$root", root);
        return (long)(await select.ExecuteScalarAsync())!;
    }

    /// <summary>Waits until no entity of <paramref name="root"/> is alive on this node.</summary>
    public async Task WaitStoppedAsync(string root)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Census.Roots.Contains(root))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The entity of {root} did not stop.");
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Runtime.Committer.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A lock store that can hold or fail claims (a gate a test opens), around the real one.</summary>
public sealed class GatedLockStore(ILockStore inner) : ILockStore
{
    public TaskCompletionSource? ClaimGate { get; set; }
    public int FailClaims { get; set; }
    public int Claims { get; private set; }

    public async Task<EntityClaim> ClaimAsync(string rootResourceId, string nodeId, CancellationToken cancellationToken)
    {
        Claims++;
        if (ClaimGate is { } gate)
        {
            await gate.Task;
        }
        if (FailClaims > 0)
        {
            FailClaims--;
            throw new StoreUnavailableException("claim refused by the test");
        }
        return await inner.ClaimAsync(rootResourceId, nodeId, cancellationToken);
    }

    public Task<LockSnapshot> LoadAsync(string rootResourceId, CancellationToken cancellationToken) => inner.LoadAsync(rootResourceId, cancellationToken);

    public Task<StoreWrite> SaveAsync(LockRecord record, long epoch, CancellationToken cancellationToken) => inner.SaveAsync(record, epoch, cancellationToken);

    /// <summary>When set, deletes wait for it (after <see cref="DeleteStarted"/>).</summary>
    public TaskCompletionSource? DeleteGate { get; set; }

    private readonly TaskCompletionSource _deleteStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task DeleteStarted => _deleteStarted.Task;

    public async Task<StoreWrite> DeleteAsync(string resourceId, string lockId, long epoch, CancellationToken cancellationToken)
    {
        _deleteStarted.TrySetResult();
        if (DeleteGate is { } gate)
        {
            await gate.Task;
        }
        return await inner.DeleteAsync(resourceId, lockId, epoch, cancellationToken);
    }
}

/// <summary>A document store whose appends can be held until a test opens the gate, around the real one.</summary>
public sealed class GatedDocumentStore(IDocumentStore inner) : IDocumentStore
{
    private readonly TaskCompletionSource _appendStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource? AppendGate { get; set; }

    public Task AppendStarted => _appendStarted.Task;

    public async Task<AppendResult> AppendAsync(IReadOnlyList<DocumentUpdateRecord> updates, IReadOnlyList<AuditEvent?>? audit, CancellationToken cancellationToken)
    {
        _appendStarted.TrySetResult();
        if (AppendGate is { } gate)
        {
            await gate.Task;
        }
        return await inner.AppendAsync(updates, audit, cancellationToken);
    }

    public Task<IReadOnlyList<DocumentUpdateRecord>> ReadUpdatesAsync(string resourceId, long afterRevision, long? upToRevision, CancellationToken cancellationToken) =>
        inner.ReadUpdatesAsync(resourceId, afterRevision, upToRevision, cancellationToken);

    public Task<StoreWrite> SaveSnapshotAsync(DocumentSnapshot snapshot, CancellationToken cancellationToken) => inner.SaveSnapshotAsync(snapshot, cancellationToken);

    public Task<DocumentSnapshot?> LoadSnapshotAsync(string resourceId, long? atOrBeforeRevision, CancellationToken cancellationToken) =>
        inner.LoadSnapshotAsync(resourceId, atOrBeforeRevision, cancellationToken);

    public Task<IReadOnlyList<DocumentRevisionInfo>> ListRevisionsAsync(string resourceId, long afterRevision, int limit, CancellationToken cancellationToken) =>
        inner.ListRevisionsAsync(resourceId, afterRevision, limit, cancellationToken);

    public Task<long> GetLatestRevisionAsync(string resourceId, CancellationToken cancellationToken) => inner.GetLatestRevisionAsync(resourceId, cancellationToken);
}

/// <summary>Every event the entities published, in order; a test waits for the one it expects.</summary>
public sealed class RecordingEvents : IEntityEventSink
{
    private readonly List<EntityBroadcast> _events = [];
    private readonly SemaphoreSlim _signal = new(0);

    public void Publish(EntityBroadcast broadcast)
    {
        lock (_events)
        {
            _events.Add(broadcast);
        }
        _signal.Release();
    }

    public IReadOnlyList<EntityBroadcast> Snapshot()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }

    public async Task<EntityBroadcast> WaitForAsync(string eventName, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            if (Snapshot().FirstOrDefault(e => e.Event.Event == eventName) is { } found)
            {
                return found;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _signal.WaitAsync(left))
            {
                throw new TimeoutException($"No {eventName} event.");
            }
        }
    }
}

/// <summary>Audit records kept in memory; durable at once.</summary>
public sealed class RecordingAudit : IAuditSink
{
    private readonly List<AuditEvent> _events = [];

    public void Record(AuditEvent auditEvent)
    {
        lock (_events)
        {
            _events.Add(auditEvent);
        }
    }

    public IReadOnlyList<AuditEvent> Snapshot()
    {
        lock (_events)
        {
            return [.. _events];
        }
    }

    public int Pending => 0;

    public int Capacity => int.MaxValue;

    public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}
