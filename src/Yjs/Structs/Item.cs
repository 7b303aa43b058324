using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;

namespace CollabAkka.Yjs.Structs;

/// <summary>
/// One run of content in a shared type's list (or one value of a map key). Items form a doubly linked
/// list per parent type; <see cref="OriginClient"/>/<see cref="RightOriginClient"/> (−1 when absent)
/// are the neighbours at creation time, which is what the YATA integration orders by.
/// </summary>
internal sealed class Item : AbstractStruct
{
    private const byte FlagKeep = 1;
    private const byte FlagCountable = 2;
    private const byte FlagDeleted = 4;
    private const byte FlagMarker = 8;

    public Item? Left;
    public Item? Right;
    public long OriginClient = -1;
    public int OriginClock;
    public long RightOriginClient = -1;
    public int RightOriginClock;

    /// <summary>The parent type once integrated (or resolved); null means "integrate as GC".</summary>
    public YType? Parent;

    /// <summary>Parent as decoded and not yet resolved: a root name (string) or a boxed <see cref="ItemId"/>.</summary>
    public object? ParentRef;

    public string? ParentSub;
    public ItemContent Content;
    private byte _info;

    public Item(long client, int clock, Item? left, long originClient, int originClock, Item? right, long rightOriginClient, int rightOriginClock, YType? parent, string? parentSub, ItemContent content)
        : base(client, clock, content.Length)
    {
        Left = left;
        Right = right;
        OriginClient = originClient;
        OriginClock = originClock;
        RightOriginClient = rightOriginClient;
        RightOriginClock = rightOriginClock;
        Parent = parent;
        ParentSub = parentSub;
        Content = content;
        _info = content.Countable ? FlagCountable : (byte)0;
    }

    public bool HasOrigin => OriginClient >= 0;

    public bool HasRightOrigin => RightOriginClient >= 0;

    public override bool Deleted => (_info & FlagDeleted) != 0;

    public bool Countable => (_info & FlagCountable) != 0;

    public bool Keep
    {
        get => (_info & FlagKeep) != 0;
        set => _info = value ? (byte)(_info | FlagKeep) : (byte)(_info & ~FlagKeep);
    }

    public bool Marker
    {
        get => (_info & FlagMarker) != 0;
        set => _info = value ? (byte)(_info | FlagMarker) : (byte)(_info & ~FlagMarker);
    }

    /// <summary>Visible in the parent's list: counted by indexes.</summary>
    public bool IsVisibleCountable => (_info & (FlagCountable | FlagDeleted)) == FlagCountable;

    public void MarkDeleted() => _info |= FlagDeleted;

    public int LastClock => Clock + Length - 1;

    /// <summary>Next non-deleted item to the left.</summary>
    public Item? Prev
    {
        get
        {
            var n = Left;
            while (n != null && n.Deleted)
            {
                n = n.Left;
            }
            return n;
        }
    }

    /// <summary>
    /// Checks that every id this item refers to is present in the store. Returns the client whose
    /// updates are missing, or −1 after resolving left, right and parent.
    /// </summary>
    public long GetMissing(Transaction tr, StructStore store)
    {
        // A reference into the item's own client is only valid if it points before the item (the
        // caller guarantees those ids exist); anything else can never be satisfied.
        if (HasOrigin && (OriginClient != Client ? OriginClock >= store.GetState(OriginClient) : OriginClock >= Clock))
        {
            return OriginClient;
        }
        if (HasRightOrigin && (RightOriginClient != Client ? RightOriginClock >= store.GetState(RightOriginClient) : RightOriginClock >= Clock))
        {
            return RightOriginClient;
        }
        if (ParentRef is ItemId pid && (pid.Client != Client ? pid.Clock >= store.GetState(pid.Client) : pid.Clock >= Clock))
        {
            return pid.Client;
        }

        AbstractStruct? leftStruct = null;
        AbstractStruct? rightStruct = null;
        if (HasOrigin)
        {
            leftStruct = store.GetItemCleanEnd(tr, OriginClient, OriginClock);
            Left = leftStruct as Item;
            OriginClient = leftStruct.Client;
            OriginClock = leftStruct.End - 1;
        }
        if (HasRightOrigin)
        {
            rightStruct = store.GetItemCleanStart(tr, RightOriginClient, RightOriginClock);
            Right = rightStruct as Item;
            RightOriginClient = rightStruct.Client;
            RightOriginClock = rightStruct.Clock;
        }
        if (leftStruct is GcStruct || rightStruct is GcStruct)
        {
            Parent = null;
        }
        else if (ParentRef is null)
        {
            if (Left != null)
            {
                Parent = Left.Parent;
                ParentSub = Left.ParentSub;
            }
            else if (Right != null)
            {
                Parent = Right.Parent;
                ParentSub = Right.ParentSub;
            }
        }
        else if (ParentRef is string rootName)
        {
            Parent = tr.Doc.GetOrCreateRoot(rootName);
        }
        else if (ParentRef is ItemId parentId)
        {
            var parentStruct = store.Find(parentId.Client, parentId.Clock);
            Parent = parentStruct is Item { Content: ContentType ct } ? ct.Type : null;
        }
        ParentRef = null;
        return -1;
    }

    /// <summary>YATA: place this item among concurrent inserts between its origins, then link it in.</summary>
    public void Integrate(Transaction tr, int offset)
    {
        var store = tr.Doc.Store;
        if (offset > 0)
        {
            Clock += offset;
            var l = store.GetItemCleanEnd(tr, Client, Clock - 1);
            Left = l as Item;
            OriginClient = l.Client;
            OriginClock = l.End - 1;
            Content = Content.Splice(offset);
            Length -= offset;
        }

        var parent = Parent;
        if (parent == null || (Left == null && HasOrigin) || (Right == null && HasRightOrigin))
        {
            // No parent (or an origin that is GC): the ids are kept as a GC struct.
            var gc = new GcStruct(Client, Clock, Length);
            store.AddStruct(gc);
            return;
        }

        if ((Left == null && (Right == null || Right.Left != null)) || (Left != null && Left.Right != Right))
        {
            var left = Left;
            Item? o;
            if (left != null)
            {
                o = left.Right;
            }
            else if (ParentSub != null)
            {
                parent.MapItems.TryGetValue(ParentSub, out o);
                while (o != null && o.Left != null)
                {
                    o = o.Left;
                }
            }
            else
            {
                o = parent.Start;
            }
            if (o != null && o != Right)
            {
                var conflicting = tr.ScratchConflicting;
                var beforeOrigin = tr.ScratchBeforeOrigin;
                conflicting.Clear();
                beforeOrigin.Clear();
                while (o != null && o != Right)
                {
                    beforeOrigin.Add(o);
                    conflicting.Add(o);
                    if (OriginClient == o.OriginClient && (OriginClient < 0 || OriginClock == o.OriginClock))
                    {
                        // case 1: same origin
                        if (o.Client < Client)
                        {
                            left = o;
                            conflicting.Clear();
                        }
                        else if (RightOriginClient == o.RightOriginClient && (RightOriginClient < 0 || RightOriginClock == o.RightOriginClock))
                        {
                            break;
                        }
                    }
                    else if (o.HasOrigin && store.Find(o.OriginClient, o.OriginClock) is Item oo && beforeOrigin.Contains(oo))
                    {
                        // case 2: o's origin is between our origin and o
                        if (!conflicting.Contains(oo))
                        {
                            left = o;
                            conflicting.Clear();
                        }
                    }
                    else
                    {
                        break;
                    }
                    o = o.Right;
                }
                conflicting.Clear();
                beforeOrigin.Clear();
            }
            Left = left;
        }

        if (Left != null)
        {
            Right = Left.Right;
            Left.Right = this;
        }
        else
        {
            Item? r;
            if (ParentSub != null)
            {
                parent.MapItems.TryGetValue(ParentSub, out r);
                while (r != null && r.Left != null)
                {
                    r = r.Left;
                }
            }
            else
            {
                r = parent.Start;
                parent.Start = this;
            }
            Right = r;
        }
        if (Right != null)
        {
            Right.Left = this;
        }
        else if (ParentSub != null)
        {
            // this is the current value of the key
            parent.MapItems[ParentSub] = this;
            Left?.Delete(tr);
        }
        if (ParentSub == null && Countable && !Deleted)
        {
            parent.ListLength += Length;
        }
        store.AddStruct(this);
        Content.Integrate(tr, this);
        tr.AddChangedType(parent, ParentSub);
        if ((parent.Item != null && parent.Item.Deleted) || (ParentSub != null && Right != null))
        {
            Delete(tr);
        }
        if (!tr.Local)
        {
            parent.ClearMarkers();
        }
    }

    public bool TryMergeWith(Item right)
    {
        if (right.OriginClient == Client && right.OriginClock == LastClock
            && Right == right
            && RightOriginClient == right.RightOriginClient && (RightOriginClient < 0 || RightOriginClock == right.RightOriginClock)
            && Client == right.Client
            && End == right.Clock
            && Deleted == right.Deleted
            && Content.GetType() == right.Content.GetType()
            && Content.TryMerge(right.Content))
        {
            if (Parent?.Markers is { } markers)
            {
                foreach (var m in markers)
                {
                    if (m.Item == right)
                    {
                        m.Item = this;
                        if (IsVisibleCountable)
                        {
                            m.Index -= Length;
                        }
                    }
                }
            }
            if (right.Keep)
            {
                Keep = true;
            }
            Right = right.Right;
            if (Right != null)
            {
                Right.Left = this;
            }
            Length += right.Length;
            return true;
        }
        return false;
    }

    public override bool MergeWith(AbstractStruct right) => right is Item item && TryMergeWith(item);

    public void Delete(Transaction tr)
    {
        if (Deleted)
        {
            return;
        }
        var parent = Parent!;
        if (Countable && ParentSub == null)
        {
            parent.ListLength -= Length;
        }
        MarkDeleted();
        tr.DeleteSet.Add(Client, Clock, Length);
        tr.AddChangedType(parent, ParentSub);
        if (!tr.Local)
        {
            // remote changes shift indexes: markers are only maintained for local edits
            parent.ClearMarkers();
        }
        Content.Delete(tr);
    }

    /// <summary>Drops deleted content: keeps the id range (as ContentDeleted, or GC if the parent is gone).</summary>
    public void Gc(StructStore store, bool parentGcd)
    {
        if (!Deleted)
        {
            throw new InvalidOperationException("Only deleted items can be garbage collected.");
        }
        Content.Gc(store);
        if (parentGcd)
        {
            store.ReplaceStruct(this, new GcStruct(Client, Clock, Length));
        }
        else if (Content is not ContentDeleted)
        {
            Content = new ContentDeleted(Length);
        }
    }

    /// <summary>Splits this item at <paramref name="diff"/>; returns the new right part (already linked).</summary>
    public Item Split(Transaction? tr, int diff)
    {
        var right = new Item(Client, Clock + diff, this, Client, Clock + diff - 1, Right, RightOriginClient, RightOriginClock, Parent, ParentSub, Content.Splice(diff));
        right.ParentRef = ParentRef;
        if (Deleted)
        {
            right.MarkDeleted();
        }
        if (Keep)
        {
            right.Keep = true;
        }
        Right = right;
        if (right.Right != null)
        {
            right.Right.Left = right;
        }
        tr?.MergeStructs.Add(right);
        if (right.ParentSub != null && right.Right == null && Parent != null && Parent.MapItems.TryGetValue(right.ParentSub, out var cur) && cur == this)
        {
            Parent.MapItems[right.ParentSub] = right;
        }
        Length = diff;
        return right;
    }

    /// <summary>A detached copy holding ids [Clock+diff, End), for merges and diffs of updates.</summary>
    public Item SliceFrom(int diff)
    {
        var copy = new Item(Client, Clock, null, OriginClient, OriginClock, null, RightOriginClient, RightOriginClock, Parent, ParentSub, CloneContent(Content));
        copy.ParentRef = ParentRef;
        return copy.Split(null, diff);
    }

    private static ItemContent CloneContent(ItemContent c) => c switch
    {
        ContentString s => new ContentString(s.Str),
        ContentAny a => new ContentAny(new List<object?>(a.Values)),
        ContentJson j => new ContentJson(new List<object?>(j.Values)),
        ContentDeleted d => new ContentDeleted(d.Length),
        _ => c,
    };

    public override void Write(ByteWriter w, int offset)
    {
        long oc = OriginClient;
        int ocl = OriginClock;
        if (offset > 0)
        {
            oc = Client;
            ocl = Clock + offset - 1;
        }
        bool hasOrigin = oc >= 0;
        bool hasRight = RightOriginClient >= 0;
        int info = (Content.Ref & 0x1F) | (hasOrigin ? 0x80 : 0) | (hasRight ? 0x40 : 0) | (ParentSub != null ? 0x20 : 0);
        w.WriteByte((byte)info);
        if (hasOrigin)
        {
            w.WriteVarUint(oc);
            w.WriteVarUint((ulong)ocl);
        }
        if (hasRight)
        {
            w.WriteVarUint(RightOriginClient);
            w.WriteVarUint((ulong)RightOriginClock);
        }
        if (!hasOrigin && !hasRight)
        {
            if (Parent != null)
            {
                if (Parent.Item == null)
                {
                    w.WriteByte(1);
                    w.WriteVarString(Parent.RootName ?? string.Empty);
                }
                else
                {
                    w.WriteByte(0);
                    w.WriteVarUint(Parent.Item.Client);
                    w.WriteVarUint((ulong)Parent.Item.Clock);
                }
            }
            else if (ParentRef is string key)
            {
                w.WriteByte(1);
                w.WriteVarString(key);
            }
            else if (ParentRef is ItemId pid)
            {
                w.WriteByte(0);
                w.WriteVarUint(pid.Client);
                w.WriteVarUint((ulong)pid.Clock);
            }
            else
            {
                throw new InvalidOperationException("Item has neither origin nor parent.");
            }
            if (ParentSub != null)
            {
                w.WriteVarString(ParentSub);
            }
        }
        Content.Write(w, offset);
    }
}
