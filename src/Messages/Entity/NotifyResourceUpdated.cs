using CollabAkka.Messages.Wire;

namespace CollabAkka.Messages.Entity;

/// <summary>
/// An external system changed <paramref name="Resource"/> (webhook): send <c>resource:updated</c> to every connection
/// joined to it, and to the whole family when it is a root. Answered with <see cref="ResourceUpdatedResult"/>.
/// </summary>
public sealed record NotifyResourceUpdated(ResourceId Resource, ResourceUpdatedPayload Payload, TriggeredBy TriggeredBy) : IEntityCommand;
