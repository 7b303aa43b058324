using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Resources;

/// <summary>Settings of entities (<c>Collab:Entities</c>).</summary>
public sealed class EntityOptions
{
    public const int DefaultMailboxCapacity = 10_000;

    /// <summary>Messages that may wait for one entity; past it callers get UNAVAILABLE.</summary>
    public int MailboxCapacity { get; set; } = DefaultMailboxCapacity;

    /// <summary>An entity with no members and nothing to keep is stopped after this long.</summary>
    public TimeSpan PassivateAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often idle entities are looked for.</summary>
    public TimeSpan PassivationSweepInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>What every entity on a node shares: an immutable snapshot, handed over at creation.</summary>
public sealed record EntityRuntime(
    string NodeId,
    ResourceCatalog Catalog,
    TimeProvider Time,
    IAuditSink Audit,
    IEntityEventSink Events,
    ILockStore Locks,
    IDocumentStore Documents,
    DocumentCommitter Committer,
    DocumentOptions DocumentOptions,
    EntityOptions Options,
    ILoggerFactory LoggerFactory);
