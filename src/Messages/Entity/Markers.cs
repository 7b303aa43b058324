namespace CollabAkka.Messages.Entity;

/// <summary>A message that changes an entity's state.</summary>
public interface IEntityCommand;

/// <summary>A message that only reads an entity's state.</summary>
public interface IEntityQuery : IEntityCommand;

/// <summary>The one envelope every message to an entity travels in; routed by the root of <paramref name="ResourceId"/>.</summary>
public sealed record EntityEnvelope(ResourceId ResourceId, string CorrelationId, IEntityCommand Message);
