using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// The one way to reach an entity. Embedded: entities in this process. Cluster (later): the owner of
/// the root's shard, wherever it runs. Callers never see which.
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
    /// <summary>Must not block: called from inside an entity's mailbox loop.</summary>
    void Publish(EntityBroadcast broadcast);
}

/// <summary>One event for a set of connections (each on a node).</summary>
public sealed record EntityBroadcast(IReadOnlyList<Recipient> Recipients, string EventName, object Payload);

public readonly record struct Recipient(string NodeId, string ConnectionId);
