using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

// Encoding the document: state vectors and (differential) state updates.
public sealed partial class YDoc
{
    /// <summary>The document's state vector: per client, the next expected clock.</summary>
    public byte[] EncodeStateVector() => UpdateCodec.EncodeStateVector(Store.GetStateVector());

    /// <summary>
    /// Everything a peer with <paramref name="stateVector"/> lacks (everything when null), including
    /// pending structs and deletions, as one v1 update.
    /// </summary>
    /// <exception cref="YjsDecodeException">The state vector is malformed.</exception>
    public byte[] EncodeStateAsUpdate(byte[]? stateVector = null) => EncodeStateAsUpdate(stateVector, includePending: true);

    /// <summary>
    /// Like <see cref="EncodeStateAsUpdate(byte[])"/>; with <paramref name="includePending"/> false only what is
    /// integrated (no structs or deletions waiting for missing updates): what a durable copy should hold.
    /// </summary>
    /// <exception cref="YjsDecodeException">The state vector is malformed.</exception>
    public byte[] EncodeStateAsUpdate(byte[]? stateVector, bool includePending)
    {
        var target = stateVector == null ? new Dictionary<long, int>() : UpdateCodec.DecodeStateVector(stateVector);
        byte[] own;
        using (var w = new ByteWriter(4096))
        {
            WriteStructsFrom(w, target);
            CreateDeleteSetFromStore().Write(w);
            own = w.ToArray();
        }
        if (!includePending || (_pendingStructs == null && _pendingDs == null))
        {
            return own;
        }
        var updates = new List<byte[]> { own };
        if (_pendingDs != null)
        {
            using var w = new ByteWriter();
            w.WriteVarUint(0UL);
            _pendingDs.Write(w);
            updates.Add(w.ToArray());
        }
        if (_pendingStructs != null)
        {
            updates.Add(YUpdate.DiffCore(UpdateCodec.Decode(_pendingStructs), target));
        }
        return YUpdate.Merge(updates);
    }

    internal void WriteStructsFrom(ByteWriter w, Dictionary<long, int> target)
    {
        var sections = new List<(long, List<AbstractStruct>, int)>();
        foreach (var (client, structs) in Store.Clients)
        {
            if (structs.Count == 0)
            {
                continue;
            }
            int clock = target.TryGetValue(client, out var c) ? c : 0;
            if (Store.GetState(client) <= clock)
            {
                continue;
            }
            clock = Math.Max(clock, structs[0].Clock);
            int start = StructStore.FindIndex(structs, clock);
            var slice = start == 0 ? structs : structs.GetRange(start, structs.Count - start);
            sections.Add((client, slice, clock - structs[start].Clock));
        }
        UpdateCodec.WriteStructs(w, sections);
    }

    internal DeleteSet CreateDeleteSetFromStore()
    {
        var ds = new DeleteSet();
        foreach (var (client, structs) in Store.Clients)
        {
            for (int i = 0; i < structs.Count; i++)
            {
                var s = structs[i];
                if (!s.Deleted)
                {
                    continue;
                }
                int clock = s.Clock;
                int len = s.Length;
                while (i + 1 < structs.Count && structs[i + 1].Deleted)
                {
                    len += structs[++i].Length;
                }
                ds.Add(client, clock, len);
            }
        }
        return ds;
    }
}
