namespace CollabAkka.Messages.Entity;

/// <summary>
/// A message that may cross a node: the envelope to an entity, its reply, an event for a node's connections.
/// The node binds one serializer to this marker, so nothing falls back to Akka's default serializer.
/// </summary>
public interface ICollabMessage;

/// <summary>A message that changes an entity's state.</summary>
public interface IEntityCommand;

/// <summary>A message that only reads an entity's state.</summary>
public interface IEntityQuery : IEntityCommand;

/// <summary>The data of a successful entity reply (the <c>data</c> of an ApiResponse).</summary>
public interface IReplyData;

/// <summary>The payload of an event (the <c>payload</c> of an ApiBroadcast).</summary>
public interface IEventPayload;

/// <summary>The details of a refusal (the <c>error.details</c> of an ApiResponse).</summary>
public interface IErrorDetails;

/// <summary>The one envelope every message to an entity travels in; routed by the root of <paramref name="ResourceId"/>.</summary>
public sealed record EntityEnvelope(ResourceId ResourceId, string CorrelationId, IEntityCommand Message) : ICollabMessage;
