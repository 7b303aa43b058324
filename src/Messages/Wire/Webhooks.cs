using System.Text.Json;
using System.Text.Json.Serialization;

using CollabAkka.Messages.Entity;

namespace CollabAkka.Messages.Wire;

/// <summary>
/// <c>POST /api/webhooks/resource-updated</c>: an external system (EMR, PACS, HL7 feed) says a resource changed.
/// <c>resourceId</c> is a full id (<c>document:123</c>, <c>document:123/section:a</c>) or, with <c>resourceType</c>,
/// the part after the colon (<c>resourceType: document, resourceId: 123</c>).
/// </summary>
public sealed record WebhookPayload(
    string? ResourceType,
    string? ResourceId,
    string? Action,
    JsonElement? Data,
    DateTimeOffset? Timestamp,
    string? Source,
    string? DeliveryId);

/// <summary>The payload of the <c>resource:updated</c> broadcast (inside an <see cref="ApiBroadcast"/>).</summary>
public sealed record ResourceUpdatedPayload(
    string ResourceId,
    string ResourceType,
    string Action,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RawJson? Data,
    DateTimeOffset Timestamp,
    string Source,
    string DeliveryId) : IEventPayload;

/// <summary>The answer to an accepted (or replayed) webhook delivery.</summary>
public sealed record WebhookAccepted(string Status, int Recipients, string ResourceId, string DeliveryId);

/// <summary>What an entity answers to <c>NotifyResourceUpdated</c>: how many connections the event went to.</summary>
public sealed record ResourceUpdatedResult(int Recipients) : IReplyData;
