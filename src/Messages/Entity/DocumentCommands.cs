namespace CollabAkka.Messages.Entity;

/// <summary>y-protocols sync step 1: the client's state vector; answered with what it lacks and the server's vector.</summary>
public sealed record SyncDocument(ResourceId Resource, string ConnectionId, byte[] StateVector) : IEntityQuery;

/// <summary>A Y.js v1 update from an editor; acknowledged with the new revision once durable.</summary>
public sealed record ApplyDocumentUpdate(ResourceId Resource, MemberInfo Member, byte[] Update) : IRetrySafeCommand;

/// <summary>A y-protocols awareness update (cursors, focus), relayed to the other members.</summary>
public sealed record RelayAwareness(ResourceId Resource, MemberInfo Member, byte[] Update) : IRetrySafeCommand;

/// <summary>Form save: set one field to a whole value if <paramref name="Revision"/> is still current.</summary>
public sealed record SetDocumentField(ResourceId Resource, MemberInfo Member, string Field, RawJson Value, long? Revision) : IEntityCommand;

/// <summary>The live content of one resource's document as JSON.</summary>
public sealed record GetDocumentContent(ResourceId Resource) : IEntityQuery;
