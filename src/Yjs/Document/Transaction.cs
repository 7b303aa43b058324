using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs.Document;

/// <summary>
/// One batch of changes to a document. Collects what was deleted, which structs may be merged
/// afterwards and which root types changed; <see cref="YDoc"/> cleans up when the outermost
/// transaction ends (GC of deleted content, struct merging, events).
/// </summary>
internal sealed class Transaction
{
    public readonly YDoc Doc;
    public readonly DeleteSet DeleteSet = new();
    public readonly Dictionary<long, int> BeforeState;
    public readonly List<AbstractStruct> MergeStructs = new();
    public readonly HashSet<string> ChangedRoots = new(StringComparer.Ordinal);
    public readonly object? Origin;
    public bool Local;

    public Transaction(YDoc doc, object? origin, bool local)
    {
        Doc = doc;
        Origin = origin;
        Local = local;
        BeforeState = doc.Store.GetStateVector();
    }

    // Scratch sets for YATA conflict resolution, shared per document to avoid allocations.
    public HashSet<Item> ScratchConflicting => Doc.ScratchConflicting;

    public HashSet<Item> ScratchBeforeOrigin => Doc.ScratchBeforeOrigin;

    public int BeforeStateOf(long client) => BeforeState.TryGetValue(client, out var c) ? c : 0;

    public void AddChangedType(YType type, string? parentSub)
    {
        var item = type.Item;
        if (item == null || (item.Clock < BeforeStateOf(item.Client) && !item.Deleted))
        {
            var root = type.Root;
            if (root.RootName != null)
            {
                ChangedRoots.Add(root.RootName);
            }
        }
    }
}
