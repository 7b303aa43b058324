using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs.Document;

// Nesting depth is checked before an update is integrated, so a refusal leaves the document unchanged.
//
// For every item of the update (and of the structs still pending from earlier updates, which this update
// may unblock) the depth of the type it will land in is resolved the way integration resolves its parent:
// a root name is depth 1; a parent id names a type item (its type's depth); no parent means "the parent
// of the origin" (or of the right origin). Ids are looked up in the document first, then in the batch.
// The walk is iterative with memoisation: origin chains inside one update can be as long as the update.
// What cannot be resolved (depends on structs that have not arrived) is not integrated now either; it is
// checked again, with the rest of the pending structs, when a later update arrives. Depth built up over
// many updates is covered because the depth of a type already in the document is measured, not assumed.
internal static class DepthGuard
{
    private const int Unknown = -1;
    private const int NoParent = 0;

    public static void Check(YDoc doc, DecodedUpdate update, DecodedUpdate? pending)
    {
        var batch = new Dictionary<long, List<AbstractStruct>>();
        void Index(DecodedUpdate u)
        {
            foreach (var c in u.Clients)
            {
                if (c.Structs.Count == 0)
                {
                    continue;
                }
                if (batch.TryGetValue(c.Client, out var list))
                {
                    list.AddRange(c.Structs);
                    list.Sort(static (a, b) => a.Clock.CompareTo(b.Clock));
                }
                else
                {
                    batch[c.Client] = new List<AbstractStruct>(c.Structs);
                }
            }
        }
        Index(update);
        if (pending != null)
        {
            Index(pending);
        }
        if (batch.Count == 0)
        {
            return;
        }
        var store = doc.Store;
        var memo = new Dictionary<Item, int>(ReferenceEqualityComparer.Instance);
        var inProgress = new HashSet<Item>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Item>();

        AbstractStruct? Lookup(long client, int clock, out bool integrated)
        {
            integrated = clock < store.GetState(client);
            if (integrated)
            {
                return store.Find(client, clock);
            }
            if (!batch.TryGetValue(client, out var list))
            {
                return null;
            }
            int lo = 0, hi = list.Count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                var s = list[mid];
                if (clock < s.Clock)
                {
                    hi = mid - 1;
                }
                else if (clock >= s.Clock + s.Length)
                {
                    lo = mid + 1;
                }
                else
                {
                    return s is SkipStruct ? null : s;
                }
            }
            return null;
        }

        // Depth of the type a struct that is already in the document belongs to (for an item) or is (for a type item's type).
        int StoreContaining(AbstractStruct s) => s is Item { Parent: { } p } ? TypeDepth(p) : NoParent;

        int ContainingDepth(Item start)
        {
            stack.Push(start);
            while (stack.Count > 0)
            {
                var x = stack.Peek();
                if (memo.ContainsKey(x))
                {
                    stack.Pop();
                    continue;
                }
                inProgress.Add(x);
                int? result = null;
                Item? dependency = null;
                bool parentIsType = false;
                if (x.ParentRef is string)
                {
                    result = 1;
                }
                else if (x.ParentRef is ItemId pid)
                {
                    var target = Lookup(pid.Client, pid.Clock, out var integrated);
                    if (target is null)
                    {
                        result = Unknown;
                    }
                    else if (target is not Item { Content: ContentType ct } parentItem)
                    {
                        result = NoParent;
                    }
                    else if (integrated)
                    {
                        result = TypeDepth(ct.Type);
                    }
                    else
                    {
                        dependency = parentItem;
                        parentIsType = true;
                    }
                }
                else
                {
                    bool integrated = false;
                    AbstractStruct? neighbour = x.HasOrigin ? Lookup(x.OriginClient, x.OriginClock, out integrated)
                        : x.HasRightOrigin ? Lookup(x.RightOriginClient, x.RightOriginClock, out integrated) : null;
                    if (neighbour is null)
                    {
                        result = x.HasOrigin || x.HasRightOrigin ? Unknown : NoParent;
                    }
                    else if (neighbour is not Item n)
                    {
                        result = NoParent;
                    }
                    else if (integrated)
                    {
                        result = StoreContaining(n);
                    }
                    else
                    {
                        dependency = n;
                    }
                }
                if (dependency != null)
                {
                    if (memo.TryGetValue(dependency, out var d))
                    {
                        result = !parentIsType || d <= 0 ? d : d + 1;
                    }
                    else if (inProgress.Contains(dependency))
                    {
                        result = Unknown; // a cycle of references: never integrable
                    }
                    else
                    {
                        stack.Push(dependency);
                        continue;
                    }
                }
                memo[x] = result!.Value;
                inProgress.Remove(x);
                stack.Pop();
            }
            return memo[start];
        }

        foreach (var list in batch.Values)
        {
            foreach (var s in list)
            {
                if (s is not Item item || s.Clock + s.Length <= store.GetState(s.Client))
                {
                    continue; // not an item, or already integrated
                }
                int contentDepth = ContentDepth(item.Content);
                if (contentDepth == 0)
                {
                    continue;
                }
                int containing = ContainingDepth(item);
                if (containing > 0 && containing + contentDepth > doc.MaxDepth)
                {
                    throw new YjsDecodeException(
                        $"The update nests content {containing + contentDepth} levels deep (struct {item.Client}:{item.Clock}); this document accepts at most {doc.MaxDepth}.")
                    {
                        Offset = -1,
                    };
                }
            }
        }
    }

    /// <summary>Depth of a type in the document: a root is 1, each enclosing type adds one.</summary>
    internal static int TypeDepth(YType type)
    {
        int depth = 1;
        for (var t = type; t.Item?.Parent is { } parent && depth <= YLimits.MaxSupportedDepth + 1; t = parent)
        {
            depth++;
        }
        return depth;
    }

    /// <summary>Levels an item's content adds below the type it is in (0 for content without containers).</summary>
    private static int ContentDepth(ItemContent content) => content switch
    {
        ContentType => 1,
        ContentAny a => a.Values.Count == 0 ? 0 : a.Values.Max(JsValues.ValueDepth),
        ContentJson j => j.Values.Count == 0 ? 0 : j.Values.Max(JsValues.ValueDepth),
        ContentEmbed e => JsValues.ValueDepth(e.Embed),
        _ => 0,
    };
}
