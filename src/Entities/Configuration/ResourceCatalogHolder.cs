namespace CollabAkka.Entities.Configuration;

/// <summary>
/// The <see cref="ResourceCatalog"/> in force on this node. A reload (<c>POST /api/admin/resource-types/reload</c>)
/// validates a new catalog completely and then swaps the reference at once, so every reader sees either the old
/// catalog or the new one, never a mix. Readers take <see cref="Current"/> per decision and keep no copy.
/// </summary>
public sealed class ResourceCatalogHolder(ResourceCatalog initial, DateTimeOffset loadedAt)
{
    private volatile State _state = new(initial ?? throw new ArgumentNullException(nameof(initial)), loadedAt);

    public ResourceCatalog Current => _state.Catalog;

    /// <summary>When <see cref="Current"/> was read (start-up or the last reload that changed it).</summary>
    public DateTimeOffset LoadedAt => _state.LoadedAt;

    /// <summary>Puts <paramref name="next"/> in force; returns the catalog it replaced.</summary>
    public ResourceCatalog Replace(ResourceCatalog next, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(next);
        return Interlocked.Exchange(ref _state, new State(next, at)).Catalog;
    }

    private sealed record State(ResourceCatalog Catalog, DateTimeOffset LoadedAt);
}

/// <summary>
/// Published on this node's ActorSystem event stream after its catalog was replaced: every entity alive here re-checks
/// its members and lock holders against the new permissions (ResourceEntity.Permissions).
/// </summary>
public sealed record ResourceCatalogReplaced(string Version);

/// <summary>
/// Published on the cluster's Distributed Pub/Sub topic <see cref="Topic"/> by the node an administrator asked to
/// reload: every other node re-reads its own <c>Collab:ResourcesFile</c>. <see cref="Version"/> is what the sender has
/// now (for the log: a node whose file differs reports another version).
/// </summary>
public sealed record ResourceTypesReloadRequested(string FromNodeId, string Version) : Messages.Entity.ICollabMessage
{
    public const string Topic = "collab-resource-types";
}
