using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Resources;

/// <summary>Settings of entities and their shard region (<c>Collab:Entities</c>).</summary>
public sealed class EntityOptions
{
    /// <summary>Shards the root ids are hashed into (stable: changing it moves every root). Default 100.</summary>
    public int ShardCount { get; set; } = 100;

    /// <summary>How long the hub waits for an entity's answer; past it the caller gets UNAVAILABLE.</summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one attempt of a retry-safe command (<c>IRetrySafeCommand</c>: document updates, syncs, lock acquire and
    /// renewal, queries) waits before the router sends it again, within <see cref="AskTimeout"/>. A message sent to an
    /// owner that has just died is lost with it; the next attempt reaches the shard's new home once the cluster has
    /// moved it. Longer than a loaded commit (so retries stay rare), short against the failover time.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>An entity with no members and nothing to keep is passivated by its region after this long.</summary>
    public TimeSpan PassivateAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often an entity checks whether it is idle enough to passivate.</summary>
    public TimeSpan PassivationSweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest reason a <c>lock:request</c> may carry (characters); longer ones get VALIDATION_FAILED.</summary>
    public int MaxLockRequestReasonLength { get; set; } = 200;

    /// <summary>Pending lock requests one resource keeps; past it, new ones get RATE_LIMITED.</summary>
    public int MaxLockRequestsPerResource { get; set; } = 8;

    public void Validate()
    {
        if (ShardCount is < 1 or > 100_000 || AskTimeout <= TimeSpan.Zero || AttemptTimeout <= TimeSpan.Zero || AttemptTimeout > AskTimeout ||
            PassivateAfter <= TimeSpan.Zero ||
            PassivationSweepInterval <= TimeSpan.Zero || MaxLockRequestReasonLength is < 0 or > 2000 || MaxLockRequestsPerResource < 1)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Collab:Entities", typeof(EntityOptions),
                ["Collab:Entities: ShardCount 1..100000, AskTimeout > 0, 0 < AttemptTimeout <= AskTimeout, PassivateAfter > 0, PassivationSweepInterval > 0, " +
                 "MaxLockRequestReasonLength 0..2000 and MaxLockRequestsPerResource >= 1 are required."]);
        }
    }
}

/// <summary>
/// What every entity on a node shares: an immutable snapshot, handed over at creation. The one part that changes is
/// reached through <see cref="Catalogs"/>: a reload of resources.yml swaps the catalog there, never in the snapshot.
/// </summary>
public sealed record EntityRuntime(
    string NodeId,
    ResourceCatalogHolder Catalogs,
    TimeProvider Time,
    IAuditSink Audit,
    IEntityEventSink Events,
    ILockStore Locks,
    IDocumentStore Documents,
    DocumentCommitter Committer,
    DocumentOptions DocumentOptions,
    EntityOptions Options,
    ILoggerFactory LoggerFactory)
{
    /// <summary>The catalog in force now (swapped by a reload; an entity re-reads it for every decision).</summary>
    public ResourceCatalog Catalog => Catalogs.Current;
}
