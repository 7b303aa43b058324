namespace CollabAkka.Messages.Entity;

/// <summary>
/// A message that may cross a node: the envelope to an entity, its reply, an event for a node's connections.
/// The node binds one serializer to this marker, so nothing falls back to Akka's default serializer.
/// </summary>
public interface ICollabMessage;

/// <summary>A message that changes an entity's state.</summary>
public interface IEntityCommand;

/// <summary>
/// A command the router may send again when an attempt goes unanswered (its owner may have died with the message):
/// applying it a second time changes nothing and answers the same way (a Y.js update already in the document is
/// acknowledged without a new revision, once what holds it is durable; a lock acquire by the connection that holds
/// the lock returns the same grant; a renewal renews; a query reads). Commands whose repetition could change state
/// differently (release, force-release, leave, form saves, webhooks, hand-over answers) must not carry it.
/// </summary>
public interface IRetrySafeCommand : IEntityCommand;

/// <summary>A message that only reads an entity's state (always safe to send again).</summary>
public interface IEntityQuery : IRetrySafeCommand;

/// <summary>The data of a successful entity reply (the <c>data</c> of an ApiResponse).</summary>
public interface IReplyData;

/// <summary>The payload of an event (the <c>payload</c> of an ApiBroadcast).</summary>
public interface IEventPayload;

/// <summary>The details of a refusal (the <c>error.details</c> of an ApiResponse).</summary>
public interface IErrorDetails;

/// <summary>The one envelope every message to an entity travels in; routed by the root of <paramref name="ResourceId"/>.</summary>
public sealed record EntityEnvelope(ResourceId ResourceId, string CorrelationId, IEntityCommand Message) : ICollabMessage;
