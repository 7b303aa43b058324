using CollabAkka.Messages.Wire;

namespace CollabAkka.Messages.Entity;

/// <summary>A connection, on the node that holds it.</summary>
public readonly record struct Recipient(string NodeId, string ConnectionId);

/// <summary>An event about a resource as an entity emits it; <see cref="ToWire"/> is the ApiBroadcast clients get.</summary>
public sealed record EntityEvent(
    string Event,
    string ResourceId,
    IEventPayload Payload,
    TriggeredBy? TriggeredBy,
    long NewRevision,
    DateTimeOffset Timestamp)
{
    public ApiBroadcast ToWire() => new(Event, ResourceId, Payload, TriggeredBy, NewRevision, Timestamp);
}

/// <summary>One event for a set of connections (each on a node).</summary>
public sealed record EntityBroadcast(IReadOnlyList<Recipient> Recipients, EntityEvent Event) : ICollabMessage;

/// <summary>
/// An entity started a new incarnation (a new ownership epoch) on <paramref name="OwnerNodeId"/>: nodes holding
/// connections joined to <paramref name="Root"/> re-register them.
/// </summary>
public sealed record EntityActivated(string Root, long Epoch, string OwnerNodeId) : ICollabMessage;
