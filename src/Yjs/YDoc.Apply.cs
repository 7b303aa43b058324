using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

// Applying remote updates.
//
// An update is decoded completely before the document is touched, so malformed input is refused
// with YjsDecodeException and leaves the document unchanged. Integration then follows yjs: structs
// are integrated client by client (highest client id first); a struct whose origin, right origin
// or parent is not known yet suspends its client and the missing client's structs are tried first.
// Whatever still depends on something absent is kept as a pending update (re-encoded), together with
// the missing state; deletions of unknown ids are kept as a pending delete set. Both are retried when
// later updates bring the missing structs, and both are part of EncodeStateAsUpdate.
public sealed partial class YDoc
{
    private byte[]? _pendingStructs;
    private Dictionary<long, int>? _pendingMissing;
    private DeleteSet? _pendingDs;

    /// <summary>Whether some structs wait for updates that have not arrived.</summary>
    public bool HasPendingStructs => _pendingStructs != null;

    /// <summary>Whether some deletions refer to ids that have not arrived.</summary>
    public bool HasPendingDeletes => _pendingDs != null;

    /// <summary>Size of the encoded structs waiting for missing updates (0 when none).</summary>
    public int PendingBytes => _pendingStructs?.Length ?? 0;

    /// <summary>Forgets the structs and deletions waiting for missing updates.</summary>
    public void DiscardPending()
    {
        _pendingStructs = null;
        _pendingMissing = null;
        _pendingDs = null;
    }

    /// <summary>
    /// Applies a v1 update. Updates may arrive twice or out of causal order: what cannot be
    /// integrated yet is kept pending and integrated when its dependencies arrive.
    /// </summary>
    /// <exception cref="YjsDecodeException">The update is malformed; the document is unchanged.</exception>
    public YApplyResult ApplyUpdate(byte[] update, object? origin = null)
    {
        var decoded = UpdateCodec.Decode(update, MaxDepth);
        // Refused before anything is touched: the document stays as it was.
        DepthGuard.Check(this, decoded, _pendingStructs is null ? null : UpdateCodec.Decode(_pendingStructs, MaxDepth));
        TransactCore(tr =>
        {
            tr.Local = false;
            ApplyDecoded(tr, decoded);
        }, origin, local: false);
        return new YApplyResult(
            _pendingStructs != null,
            _pendingDs != null,
            _pendingMissing is null ? new Dictionary<long, int>() : new Dictionary<long, int>(_pendingMissing));
    }

    private void ApplyDecoded(Transaction tr, DecodedUpdate decoded)
    {
        while (true)
        {
            var rest = IntegrateStructs(tr, decoded.Clients, out var missing);
            bool retry = false;
            if (_pendingStructs != null)
            {
                foreach (var (client, clock) in _pendingMissing!)
                {
                    if (clock < Store.GetState(client))
                    {
                        retry = true;
                        break;
                    }
                }
                if (rest != null)
                {
                    foreach (var (client, clock) in missing!)
                    {
                        if (!_pendingMissing.TryGetValue(client, out var m) || m > clock)
                        {
                            _pendingMissing[client] = clock;
                        }
                    }
                    _pendingStructs = YUpdate.Merge(new[] { _pendingStructs, rest });
                }
            }
            else if (rest != null)
            {
                _pendingStructs = rest;
                _pendingMissing = missing;
            }

            var dsRest = ApplyDeleteSet(tr, decoded.DeleteSet);
            if (_pendingDs != null)
            {
                var pendingDs = _pendingDs;
                _pendingDs = null;
                var dsRest2 = ApplyDeleteSet(tr, pendingDs);
                _pendingDs = dsRest != null && dsRest2 != null ? DeleteSet.Merge(new[] { dsRest, dsRest2 }) : dsRest ?? dsRest2;
            }
            else
            {
                _pendingDs = dsRest;
            }

            if (!retry)
            {
                return;
            }
            decoded = UpdateCodec.Decode(_pendingStructs!, MaxDepth);
            _pendingStructs = null;
            _pendingMissing = null;
        }
    }

    /// <summary>Integrates what it can; returns the rest as an encoded update (or null) and the missing state.</summary>
    private byte[]? IntegrateStructs(Transaction tr, List<ClientStructs> clients, out Dictionary<long, int>? missingSv)
    {
        missingSv = null;
        if (clients.Count == 0)
        {
            return null;
        }
        var refs = new Dictionary<long, ClientStructs>(clients.Count);
        foreach (var c in clients)
        {
            if (c.Structs.Count > 0)
            {
                refs[c.Client] = c;
            }
        }
        var ids = refs.Keys.ToList();
        ids.Sort();
        var stack = new Stack<AbstractStruct>();
        var rest = new Dictionary<long, List<AbstractStruct>>();
        var missing = new Dictionary<long, int>();
        var state = new Dictionary<long, int>();

        ClientStructs? NextTarget()
        {
            while (ids.Count > 0)
            {
                var t = refs[ids[^1]];
                if (t.Next < t.Structs.Count)
                {
                    return t;
                }
                ids.RemoveAt(ids.Count - 1);
            }
            return null;
        }

        void UpdateMissing(long client, int clock)
        {
            if (!missing.TryGetValue(client, out var m) || m > clock)
            {
                missing[client] = clock;
            }
        }

        void AddStackToRest()
        {
            foreach (var s in stack)
            {
                long client = s.Client;
                if (refs.TryGetValue(client, out var inapplicable))
                {
                    inapplicable.Next--;
                    rest[client] = inapplicable.Structs.GetRange(inapplicable.Next, inapplicable.Structs.Count - inapplicable.Next);
                    refs.Remove(client);
                }
                else
                {
                    rest[client] = new List<AbstractStruct> { s };
                }
                ids.Remove(client);
            }
            stack.Clear();
        }

        var current = NextTarget();
        if (current == null)
        {
            return null;
        }
        var head = current.Structs[current.Next++];
        while (true)
        {
            if (head is not SkipStruct)
            {
                if (!state.TryGetValue(head.Client, out var localClock))
                {
                    localClock = Store.GetState(head.Client);
                    state[head.Client] = localClock;
                }
                int offset = localClock - head.Clock;
                if (offset < 0)
                {
                    stack.Push(head);
                    UpdateMissing(head.Client, head.Clock - 1);
                    AddStackToRest();
                }
                else
                {
                    long missingClient = head is Item item ? item.GetMissing(tr, Store) : -1;
                    if (missingClient >= 0)
                    {
                        stack.Push(head);
                        if (!refs.TryGetValue(missingClient, out var structRefs) || structRefs.Next == structRefs.Structs.Count)
                        {
                            UpdateMissing(missingClient, Store.GetState(missingClient));
                            AddStackToRest();
                        }
                        else
                        {
                            head = structRefs.Structs[structRefs.Next++];
                            continue;
                        }
                    }
                    else if (offset < head.Length)
                    {
                        IntegrateOne(tr, head, offset);
                        state[head.Client] = head.Clock + head.Length;
                    }
                }
            }
            if (stack.Count > 0)
            {
                head = stack.Pop();
            }
            else if (current != null && current.Next < current.Structs.Count && refs.ContainsKey(current.Client))
            {
                head = current.Structs[current.Next++];
            }
            else
            {
                current = NextTarget();
                if (current == null)
                {
                    break;
                }
                head = current.Structs[current.Next++];
            }
        }
        if (rest.Count == 0)
        {
            return null;
        }
        missingSv = missing;
        using var w = new ByteWriter();
        var sections = new List<(long, List<AbstractStruct>, int)>(rest.Count);
        foreach (var (client, structs) in rest)
        {
            sections.Add((client, structs, 0));
        }
        UpdateCodec.WriteStructs(w, sections);
        w.WriteVarUint(0UL);
        return w.ToArray();
    }

    private void IntegrateOne(Transaction tr, AbstractStruct s, int offset)
    {
        switch (s)
        {
            case Item item:
                item.Integrate(tr, offset);
                break;
            case GcStruct gc:
                if (offset > 0)
                {
                    gc.Clock += offset;
                    gc.Length -= offset;
                }
                Store.AddStruct(gc);
                break;
        }
    }

    private DeleteSet? ApplyDeleteSet(Transaction tr, DeleteSet ds)
    {
        DeleteSet? unapplied = null;
        foreach (var (client, dels) in ds.Clients)
        {
            Store.Clients.TryGetValue(client, out var structs);
            int state = Store.GetState(client);
            foreach (var d in dels)
            {
                int clock = d.Clock;
                int clockEnd = d.End;
                if (clock < state)
                {
                    if (state < clockEnd)
                    {
                        (unapplied ??= new DeleteSet()).Add(client, state, clockEnd - state);
                    }
                    int index = StructStore.FindIndex(structs!, clock);
                    var s = structs![index];
                    if (!s.Deleted && s.Clock < clock)
                    {
                        structs.Insert(index + 1, ((Item)s).Split(tr, clock - s.Clock));
                        index++;
                    }
                    while (index < structs.Count)
                    {
                        s = structs[index++];
                        if (s.Clock >= clockEnd)
                        {
                            break;
                        }
                        if (!s.Deleted)
                        {
                            var item = (Item)s;
                            if (clockEnd < item.End)
                            {
                                structs.Insert(index, item.Split(tr, clockEnd - item.Clock));
                            }
                            item.Delete(tr);
                        }
                    }
                }
                else
                {
                    (unapplied ??= new DeleteSet()).Add(client, clock, clockEnd - clock);
                }
            }
        }
        return unapplied;
    }
}

/// <summary>Outcome of <see cref="YDoc.ApplyUpdate"/>.</summary>
/// <param name="HasPendingStructs">Some structs (of this or earlier updates) wait for missing updates.</param>
/// <param name="HasPendingDeletes">Some deletions wait for the structs they delete.</param>
/// <param name="Missing">Per client, the clock that must be known before pending structs can be retried (as in yjs: retried once the document's state for the client exceeds it); empty when nothing is pending.</param>
public sealed record YApplyResult(bool HasPendingStructs, bool HasPendingDeletes, IReadOnlyDictionary<long, int> Missing)
{
    /// <summary>Whether anything is pending.</summary>
    public bool HasPending => HasPendingStructs || HasPendingDeletes;
}
