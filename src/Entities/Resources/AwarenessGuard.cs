using System.Text;
using System.Text.Json;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages;
using CollabAkka.Yjs;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// Bounds on awareness (issue 12 item 3), kept apart from the entity so its host can change freely.
/// A state must be a JSON object or <c>null</c>, valid JSON within the document nesting limit and at most
/// <see cref="DocumentOptions.MaxAwarenessStateBytes"/>; a connection may announce at most
/// <see cref="DocumentOptions.MaxAwarenessClientsPerConnection"/> client ids and a room hold at most
/// <see cref="DocumentOptions.MaxAwarenessClientsPerRoom"/>; a newcomer's snapshot is cut at
/// <see cref="DocumentOptions.MaxAwarenessSnapshotBytes"/>. An update breaking a rule is refused whole:
/// nothing of it is kept or relayed.
/// </summary>
internal static class AwarenessGuard
{
    /// <param name="entries">The decoded update.</param>
    /// <param name="connectionId">The sender.</param>
    /// <param name="ownerOf">Which connection owns a client id in the room (null: nobody yet).</param>
    /// <param name="ownedBySender">Client ids the sender already owns in the room.</param>
    /// <param name="roomCount">Client ids the room holds.</param>
    public static EntityReply? Check(IReadOnlyList<YAwarenessEntry> entries, string connectionId, Func<long, string?> ownerOf,
        int ownedBySender, int roomCount, DocumentOptions options)
    {
        var added = new HashSet<long>();
        foreach (var entry in entries)
        {
            if (Encoding.UTF8.GetByteCount(entry.StateJson) > options.MaxAwarenessStateBytes)
            {
                return EntityReply.Refuse(ErrorCodes.PayloadTooLarge,
                    $"Awareness state of client {entry.ClientId} is larger than {options.MaxAwarenessStateBytes} bytes (Collab:Documents:MaxAwarenessStateBytes).");
            }
            if (!IsObjectOrNull(entry.StateJson, options.MaxNestingDepth))
            {
                return EntityReply.Refuse(ErrorCodes.InvalidUpdate,
                    $"Awareness state of client {entry.ClientId} must be a JSON object or null (nested at most {options.MaxNestingDepth} levels).");
            }
            if (entry.StateJson != "null" && ownerOf(entry.ClientId) is null)
            {
                added.Add(entry.ClientId);
            }
        }
        if (added.Count == 0)
        {
            return null;
        }
        if (ownedBySender + added.Count > options.MaxAwarenessClientsPerConnection)
        {
            return EntityReply.Refuse(ErrorCodes.ValidationFailed,
                $"A connection may announce at most {options.MaxAwarenessClientsPerConnection} awareness client ids per resource (Collab:Documents:MaxAwarenessClientsPerConnection).");
        }
        if (roomCount + added.Count > options.MaxAwarenessClientsPerRoom)
        {
            return EntityReply.Refuse(ErrorCodes.ValidationFailed,
                $"This resource already holds {roomCount} awareness client ids; the limit is {options.MaxAwarenessClientsPerRoom} (Collab:Documents:MaxAwarenessClientsPerRoom).");
        }
        return null;
    }

    /// <summary>The newcomer's snapshot: every entry while it fits <see cref="DocumentOptions.MaxAwarenessSnapshotBytes"/>.</summary>
    public static byte[] Snapshot(IEnumerable<YAwarenessEntry> entries, DocumentOptions options)
    {
        var kept = new List<YAwarenessEntry>();
        long bytes = 1;
        foreach (var entry in entries)
        {
            var size = Encoding.UTF8.GetByteCount(entry.StateJson) + 24; // two varuints and the string's length
            if (bytes + size > options.MaxAwarenessSnapshotBytes)
            {
                break;
            }
            bytes += size;
            kept.Add(entry);
        }
        return YAwareness.Encode(kept);
    }

    private static bool IsObjectOrNull(string json, int maxDepth)
    {
        if (json == "null")
        {
            return true;
        }
        try
        {
            using var parsed = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = maxDepth + 1 });
            return parsed.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
