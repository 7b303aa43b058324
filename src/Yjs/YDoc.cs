using System.Security.Cryptography;
using System.Text;
using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>
/// A Yjs document: a struct store plus named root types. Remote changes arrive as v1 updates
/// (<see cref="ApplyUpdate"/>); local edits go through the shared types and are announced as updates
/// by <see cref="UpdateProduced"/>. Not thread-safe: use one document from one thread (an entity's
/// mailbox) at a time.
/// </summary>
public sealed partial class YDoc
{
    internal readonly StructStore Store = new();
    internal readonly Dictionary<string, YType> Roots = new(StringComparer.Ordinal);
    internal readonly HashSet<Item> ScratchConflicting = new(ReferenceEqualityComparer.Instance);
    internal readonly HashSet<Item> ScratchBeforeOrigin = new(ReferenceEqualityComparer.Instance);
    private Transaction? _current;

    /// <summary>Creates a document.</summary>
    /// <param name="clientId">Client id for local edits; a random 32-bit id when null.</param>
    /// <param name="gc">Whether deleted content is garbage collected (yjs default: true).</param>
    /// <param name="maxDepth">Deepest nesting of types and values the document accepts (see <see cref="YLimits"/>).</param>
    public YDoc(long? clientId = null, bool gc = true, int maxDepth = YLimits.DefaultMaxDepth)
    {
        MaxDepth = YLimits.CheckDepth(maxDepth);
        if (clientId is < 0 or > (1L << 53))
        {
            throw new ArgumentOutOfRangeException(nameof(clientId));
        }
        ClientId = clientId ?? RandomNumberGenerator.GetInt32(int.MaxValue) + (long)RandomNumberGenerator.GetInt32(2) * int.MaxValue;
        GcEnabled = gc;
    }

    /// <summary>The client id used for local edits.</summary>
    public long ClientId { get; }

    /// <summary>Whether deleted content is garbage collected.</summary>
    public bool GcEnabled { get; }

    /// <summary>Deepest nesting (root type = 1) that updates applied to this document may create.</summary>
    public int MaxDepth { get; }

    /// <summary>Names of all root types (defined locally or by updates).</summary>
    public IReadOnlyCollection<string> RootNames => Roots.Keys;

    /// <summary>Raised after every transaction that changed something, with the changed root names.</summary>
    public event EventHandler<YTransactionEventArgs>? AfterTransaction;

    /// <summary>Raised after every transaction that changed something, with the v1 update describing the change.</summary>
    public event EventHandler<YUpdateEventArgs>? UpdateProduced;

    /// <summary>Runs <paramref name="body"/> as one transaction: all local edits in it form one update.</summary>
    public void Transact(Action body, object? origin = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        TransactCore(_ => body(), origin, local: true);
    }

    internal void TransactLocal(Action<Transaction> f) => TransactCore(f, null, local: true);

    internal void TransactCore(Action<Transaction> f, object? origin, bool local)
    {
        if (_current != null)
        {
            f(_current);
            return;
        }
        var tr = new Transaction(this, origin, local);
        _current = tr;
        try
        {
            f(tr);
        }
        finally
        {
            _current = null;
            Cleanup(tr);
        }
    }

    // ------------------------------------------------------------------ roots

    /// <summary>The root text <paramref name="name"/> (created if needed).</summary>
    public YText GetText(string name) => GetRoot(name, static () => new YText());

    /// <summary>The root map <paramref name="name"/> (created if needed).</summary>
    public YMap GetMap(string name) => GetRoot(name, static () => new YMap());

    /// <summary>The root array <paramref name="name"/> (created if needed).</summary>
    public YArray GetArray(string name) => GetRoot(name, static () => new YArray());

    /// <summary>The root XML fragment <paramref name="name"/> (created if needed).</summary>
    public YXmlFragment GetXmlFragment(string name) => GetRoot(name, static () => new YXmlFragment());

    private T GetRoot<T>(string name, Func<T> create)
        where T : YType
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Roots.TryGetValue(name, out var existing))
        {
            if (existing.GetType() == typeof(T))
            {
                return (T)existing;
            }
            if (existing is not YUnknownRoot)
            {
                throw new InvalidOperationException($"Root '{name}' is already defined as {existing.GetType().Name}.");
            }
        }
        var type = create();
        type.RootName = name;
        type.Integrate(this, null);
        if (existing != null)
        {
            // Adopt what remote updates put into the root before its kind was known.
            type.Start = existing.Start;
            type.ListLength = existing.ListLength;
            for (var n = type.Start; n != null; n = n.Right)
            {
                n.Parent = type;
            }
            foreach (var (key, item) in existing.MapItems)
            {
                type.MapItems[key] = item;
                for (Item? n = item; n != null; n = n.Left)
                {
                    n.Parent = type;
                }
            }
            type.HasFormatting = existing.HasFormatting;
            if (type.HasFormatting)
            {
                type.Markers = null;
            }
        }
        Roots[name] = type;
        return type;
    }

    internal YType GetOrCreateRoot(string name)
    {
        if (!Roots.TryGetValue(name, out var type))
        {
            type = new YUnknownRoot { RootName = name };
            type.Integrate(this, null);
            Roots[name] = type;
        }
        return type;
    }

    /// <summary>
    /// The whole document as a JSON object: one entry per root. Roots whose kind was never declared
    /// locally are read by inferring the kind from their content (see <see cref="RootKind"/>).
    /// </summary>
    public string ToJson()
    {
        var sb = new StringBuilder();
        sb.Append('{');
        bool first = true;
        foreach (var (name, type) in Roots)
        {
            if (!first)
            {
                sb.Append(',');
            }
            first = false;
            JsValues.WriteJsonString(sb, name);
            sb.Append(':');
            type.WriteJson(sb);
        }
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>
    /// <see cref="ToJson"/> parsed, with a JSON depth limit matching <see cref="MaxDepth"/> (detached from any
    /// <see cref="System.Text.Json.JsonDocument"/>, so it may be kept).
    /// </summary>
    public System.Text.Json.JsonElement ToJsonElement()
    {
        using var parsed = System.Text.Json.JsonDocument.Parse(ToJson(),
            new System.Text.Json.JsonDocumentOptions { MaxDepth = YLimits.JsonDepth(MaxDepth) });
        return parsed.RootElement.Clone();
    }

    /// <summary>
    /// Kind of a root: "Text", "Map", "Array" or "XmlFragment" when declared locally or inferable from
    /// content (text runs/formats → Text, XML nodes → XmlFragment, other sequence content → Array,
    /// keys only → Map); "Empty" for an undeclared root without content; null for an unknown name.
    /// </summary>
    public string? RootKind(string name) => Roots.TryGetValue(name, out var t)
        ? t switch
        {
            YXmlFragment => "XmlFragment",
            YText => "Text",
            YArray => "Array",
            YMap => "Map",
            YUnknownRoot u => u.InferKind(),
            _ => null,
        }
        : null;

    // ------------------------------------------------------------------ transaction cleanup

    private void Cleanup(Transaction tr)
    {
        var ds = tr.DeleteSet;
        ds.SortAndMerge();
        var afterState = Store.GetStateVector();
        bool changedStructs = !SameState(tr.BeforeState, afterState);
        try
        {
            if ((changedStructs || !ds.IsEmpty || tr.ChangedRoots.Count > 0) && AfterTransaction is { } handler)
            {
                handler(this, new YTransactionEventArgs(tr.ChangedRoots, tr.Local, tr.Origin));
            }
        }
        finally
        {
            if (GcEnabled)
            {
                TryGcDeleteSet(ds);
            }
            TryMergeDeleteSet(ds);
            foreach (var (client, clock) in afterState)
            {
                int before = tr.BeforeStateOf(client);
                if (before != clock)
                {
                    var structs = Store.Clients[client];
                    int firstChange = Math.Max(StructStore.FindIndex(structs, before), 1);
                    for (int i = structs.Count - 1; i >= firstChange;)
                    {
                        i -= 1 + TryToMergeWithLefts(structs, i);
                    }
                }
            }
            for (int i = tr.MergeStructs.Count - 1; i >= 0; i--)
            {
                var s = tr.MergeStructs[i];
                var structs = Store.Clients[s.Client];
                int pos = StructStore.FindIndex(structs, s.Clock);
                if (pos + 1 < structs.Count && TryToMergeWithLefts(structs, pos + 1) > 1)
                {
                    continue;
                }
                if (pos > 0)
                {
                    TryToMergeWithLefts(structs, pos);
                }
            }
            if ((changedStructs || !ds.IsEmpty) && UpdateProduced is { } updateHandler)
            {
                using var w = new ByteWriter();
                WriteStructsFrom(w, tr.BeforeState);
                ds.Write(w);
                updateHandler(this, new YUpdateEventArgs(w.ToArray(), tr.Local, tr.Origin));
            }
        }
    }

    private static bool SameState(Dictionary<long, int> a, Dictionary<long, int> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }
        foreach (var (k, v) in a)
        {
            if (!b.TryGetValue(k, out var w) || w != v)
            {
                return false;
            }
        }
        return true;
    }

    private static int TryToMergeWithLefts(List<AbstractStruct> structs, int pos)
    {
        int i = pos;
        while (i > 0)
        {
            var right = structs[i];
            var left = structs[i - 1];
            if (left.Deleted == right.Deleted && left.GetType() == right.GetType() && left.MergeWith(right))
            {
                if (right is Item { ParentSub: { } sub, Parent: { } parent } && parent.MapItems.TryGetValue(sub, out var cur) && cur == right)
                {
                    parent.MapItems[sub] = (Item)left;
                }
                i--;
                continue;
            }
            break;
        }
        int merged = pos - i;
        if (merged > 0)
        {
            structs.RemoveRange(pos + 1 - merged, merged);
        }
        return merged;
    }

    private void TryGcDeleteSet(DeleteSet ds)
    {
        foreach (var (client, dels) in ds.Clients)
        {
            if (!Store.Clients.TryGetValue(client, out var structs))
            {
                continue;
            }
            for (int di = dels.Count - 1; di >= 0; di--)
            {
                var d = dels[di];
                for (int si = StructStore.FindIndex(structs, d.Clock); si < structs.Count && structs[si].Clock < d.End; si++)
                {
                    if (structs[si] is Item { Deleted: true, Keep: false } item)
                    {
                        item.Gc(Store, parentGcd: false);
                    }
                }
            }
        }
    }

    private void TryMergeDeleteSet(DeleteSet ds)
    {
        foreach (var (client, dels) in ds.Clients)
        {
            if (!Store.Clients.TryGetValue(client, out var structs))
            {
                continue;
            }
            for (int di = dels.Count - 1; di >= 0; di--)
            {
                var d = dels[di];
                int si = Math.Min(structs.Count - 1, 1 + StructStore.FindIndex(structs, d.End - 1));
                while (si > 0 && structs[si].Clock >= d.Clock)
                {
                    si -= 1 + TryToMergeWithLefts(structs, si);
                }
            }
        }
    }
}

/// <summary>What a finished transaction changed.</summary>
public sealed class YTransactionEventArgs : EventArgs
{
    internal YTransactionEventArgs(IReadOnlyCollection<string> changedRoots, bool local, object? origin)
    {
        ChangedRoots = changedRoots;
        Local = local;
        Origin = origin;
    }

    /// <summary>Names of the root types whose content (at any depth) changed.</summary>
    public IReadOnlyCollection<string> ChangedRoots { get; }

    /// <summary>True for local edits, false for applied updates.</summary>
    public bool Local { get; }

    /// <summary>The origin passed to <see cref="YDoc.Transact"/> or <see cref="YDoc.ApplyUpdate"/>.</summary>
    public object? Origin { get; }
}

/// <summary>The v1 update a transaction produced.</summary>
public sealed class YUpdateEventArgs : EventArgs
{
    internal YUpdateEventArgs(byte[] update, bool local, object? origin)
    {
        Update = update;
        Local = local;
        Origin = origin;
    }

    /// <summary>The update (v1) holding the transaction's new structs and deletions.</summary>
    public byte[] Update { get; }

    /// <summary>True for local edits, false for applied updates.</summary>
    public bool Local { get; }

    /// <summary>The transaction's origin.</summary>
    public object? Origin { get; }
}
