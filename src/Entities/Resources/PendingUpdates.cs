using System.Text.Json;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages;
using CollabAkka.Yjs;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// What of an applied update becomes a revision (issue 12 items 1 and 13). Structs whose dependencies are
/// missing stay in the document's memory only; they never reach the log, snapshots or syncing clients.
/// When nothing was or is pending the update is stored as received (the common case, byte for byte);
/// otherwise what the transaction integrated is stored instead, so out-of-order delivery still works: the
/// update that brings the missing structs is stored together with the structs it unblocked.
/// </summary>
internal static class PendingUpdates
{
    public static byte[]? Stored(YDoc doc, byte[] received, byte[]? integrated, bool pendingBefore, YApplyResult result, DocumentOptions options)
    {
        if (doc.PendingBytes > options.MaxUpdateBytes)
        {
            // Waiting structs are bounded like one update (Collab:Documents:MaxUpdateBytes); past it they are dropped.
            doc.DiscardPending();
        }
        if (!pendingBefore && !result.HasPending)
        {
            return integrated is null ? null : received;
        }
        return integrated;
    }

    /// <summary>A form-save value must fit the document's nesting limit (the field itself is one level).</summary>
    public static EntityReply? CheckFieldValue(string field, JsonElement value, int maxDepth)
    {
        var depth = Depth(value) + 1 + (field.Contains('.', StringComparison.Ordinal) ? 0 : -1);
        return depth <= maxDepth
            ? null
            : EntityReply.Refuse(ErrorCodes.ValidationFailed,
                $"The value nests {depth} levels deep; documents accept at most {maxDepth} (Collab:Documents:MaxNestingDepth).");
    }

    private static int Depth(JsonElement root)
    {
        var max = 0;
        var stack = new Stack<(JsonElement Element, int Depth)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (e, d) = stack.Pop();
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    max = Math.Max(max, d + 1);
                    foreach (var p in e.EnumerateObject())
                    {
                        stack.Push((p.Value, d + 1));
                    }
                    break;
                case JsonValueKind.Array:
                    max = Math.Max(max, d + 1);
                    foreach (var x in e.EnumerateArray())
                    {
                        stack.Push((x, d + 1));
                    }
                    break;
            }
        }
        return max;
    }
}
