using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// The one way to reach an entity: the shard region, which finds the owner of the root's shard wherever it runs.
/// Callers never see where.
/// </summary>
public interface IEntityRouter
{
    Task<EntityReply> SendAsync(EntityEnvelope envelope, CancellationToken cancellationToken = default);

    /// <summary>Roots with a live entity on this node.</summary>
    IReadOnlyCollection<string> ActiveRoots { get; }
}

/// <summary>Where entities put the events they emit; the web edge delivers them to connections.</summary>
public interface IEntityEventSink
{
    /// <summary>Must not block: called from inside an entity while it handles a message.</summary>
    void Publish(EntityBroadcast broadcast);
}
