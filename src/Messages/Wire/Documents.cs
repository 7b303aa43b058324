using System.Text.Json;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Messages.Wire;

/// <summary><c>doc:sync</c>: base64 Y.js state vector (empty or omitted: the client has nothing).</summary>
public sealed record DocSyncRequest(string? ResourceId, string? RequestId, string? StateVector);

/// <summary><c>doc:update</c>: base64 Y.js v1 update.</summary>
public sealed record DocUpdateRequest(string? ResourceId, string? RequestId, string? Update);

/// <summary><c>awareness:update</c>: base64 y-protocols awareness update.</summary>
public sealed record AwarenessRequest(string? ResourceId, string? RequestId, string? Update);

/// <summary><c>resource:update</c>: whole-value save of one field with an optimistic revision check.</summary>
public sealed record ResourceUpdateRequest(string? ResourceId, string? RequestId, string? Field, JsonElement Value, long? Revision);

/// <summary>Data of <c>doc:sync</c>: what the client lacks and the server's state vector, base64.</summary>
public sealed record DocSyncResult(string ResourceId, [property: WireBytes] string Update, [property: WireBytes] string StateVector, long Revision) : IReplyData;

/// <summary>Payload of the <c>doc:update</c> and <c>awareness:update</c> events.</summary>
public sealed record DocUpdatePayload([property: WireBytes] string Update, string? SessionId) : IEventPayload;

/// <summary>Details of STALE_REVISION: the current revision and content.</summary>
public sealed record StaleRevisionDetails(long CurrentRevision, RawJson State) : IErrorDetails;

/// <summary>Data of an acknowledged <c>doc:update</c> or <c>resource:update</c>: durable at this revision.</summary>
public sealed record DocUpdateAck(string ResourceId, long Revision) : IReplyData;

/// <summary>
/// Data of a <c>doc:update</c> that stored nothing (no revision): a duplicate, or structs that wait in memory for
/// updates not yet received (<see cref="Pending"/>).
/// </summary>
public sealed record DuplicateUpdateResult(bool Duplicate, bool Pending) : IReplyData;

/// <summary>Data of a <c>resource:update</c> whose value was already the current one.</summary>
public sealed record UnchangedFieldResult(bool Unchanged) : IReplyData;

/// <summary>A document's content as JSON at a revision (<c>GET /api/resources/{id}/content</c>).</summary>
public sealed record DocumentContent(string ResourceId, long Revision, RawJson Content) : IReplyData;

/// <summary>Details of INVALID_UPDATE: where decoding stopped.</summary>
public sealed record UpdateDecodeDetails(int Offset) : IErrorDetails;
