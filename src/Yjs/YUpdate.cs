using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>
/// Operations on encoded v1 updates that need no document: merging, diffing against a state vector,
/// reading an update's state vector and validating. All of them throw <see cref="YjsDecodeException"/>
/// for malformed input.
/// </summary>
public static class YUpdate
{
    /// <summary>Merges updates into one update that holds the union of their structs and deletions.</summary>
    public static byte[] Merge(IEnumerable<byte[]> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var decoded = updates.Select(static u => UpdateCodec.Decode(u)).ToList();
        if (decoded.Count == 1)
        {
            return Encode(decoded[0].Clients.Select(c => (c.Client, c.Structs)).ToList(), decoded[0].DeleteSet);
        }
        var perClient = new Dictionary<long, List<AbstractStruct>>();
        foreach (var u in decoded)
        {
            foreach (var c in u.Clients)
            {
                if (!perClient.TryGetValue(c.Client, out var list))
                {
                    perClient[c.Client] = list = new List<AbstractStruct>(c.Structs.Count);
                }
                list.AddRange(c.Structs);
            }
        }
        var sections = new List<(long, List<AbstractStruct>, int)>(perClient.Count);
        using var w = new ByteWriter(4096);
        foreach (var (client, all) in perClient)
        {
            // stable order by clock; at equal clocks real structs win over skips
            var ordered = all.Select((s, i) => (s, i)).OrderBy(static x => x.s.Clock).ThenBy(static x => x.s is SkipStruct ? 1 : 0).ThenBy(static x => x.i).Select(static x => x.s);
            var output = new List<AbstractStruct>();
            int end = -1;
            int firstOffset = 0;
            foreach (var s in ordered)
            {
                if (s is SkipStruct || s.End <= end)
                {
                    continue;
                }
                if (end < 0)
                {
                    output.Add(s);
                }
                else if (s.Clock > end)
                {
                    output.Add(new SkipStruct(client, end, s.Clock - end));
                    output.Add(s);
                }
                else if (s.Clock == end)
                {
                    var last = output[^1];
                    if (!(output.Count > 1 || firstOffset == 0) || !TryMergeDetached(last, s))
                    {
                        output.Add(s);
                    }
                }
                else
                {
                    output.Add(Slice(s, end - s.Clock));
                }
                end = s.End;
            }
            if (output.Count > 0)
            {
                sections.Add((client, output, firstOffset));
            }
        }
        UpdateCodec.WriteStructs(w, sections);
        DeleteSet.Merge(decoded.Select(static d => d.DeleteSet)).Write(w);
        return w.ToArray();
    }

    private static bool TryMergeDetached(AbstractStruct left, AbstractStruct right)
    {
        // Adjacent structs of one client are merged when yjs would merge them (same kind, right
        // continues left's origin chain); keeps merged updates compact.
        if (left is GcStruct && right is GcStruct)
        {
            left.Length += right.Length;
            return true;
        }
        if (left is Item l && right is Item r
            && r.OriginClient == l.Client && r.OriginClock == l.LastClock
            && l.RightOriginClient == r.RightOriginClient && (l.RightOriginClient < 0 || l.RightOriginClock == r.RightOriginClock)
            && l.Content.GetType() == r.Content.GetType()
            && l.Content is ContentString or ContentAny or ContentJson or ContentDeleted
            && l.Content.TryMerge(r.Content))
        {
            l.Length += r.Length;
            return true;
        }
        return false;
    }

    private static AbstractStruct Slice(AbstractStruct s, int diff) => s switch
    {
        Item item => item.SliceFrom(diff),
        GcStruct => new GcStruct(s.Client, s.Clock + diff, s.Length - diff),
        _ => new SkipStruct(s.Client, s.Clock + diff, s.Length - diff),
    };

    private static byte[] Encode(List<(long Client, List<AbstractStruct> Structs)> clients, DeleteSet ds)
    {
        using var w = new ByteWriter(4096);
        var sections = clients.Where(static c => c.Structs.Count > 0).Select(static c => (c.Client, c.Structs, 0)).ToList();
        UpdateCodec.WriteStructs(w, sections);
        ds.Write(w);
        return w.ToArray();
    }

    /// <summary>The part of <paramref name="update"/> that a peer with <paramref name="stateVector"/> lacks.</summary>
    public static byte[] Diff(byte[] update, byte[] stateVector)
    {
        var decoded = UpdateCodec.Decode(update);
        return DiffCore(decoded, UpdateCodec.DecodeStateVector(stateVector));
    }

    internal static byte[] DiffCore(DecodedUpdate decoded, Dictionary<long, int> sv)
    {
        var sections = new List<(long, List<AbstractStruct>, int)>();
        foreach (var c in decoded.Clients)
        {
            int svClock = sv.TryGetValue(c.Client, out var k) ? k : 0;
            var structs = c.Structs;
            int i = 0;
            while (i < structs.Count && (structs[i].End <= svClock || structs[i] is SkipStruct))
            {
                i++;
            }
            if (i == structs.Count)
            {
                continue;
            }
            int last = structs.Count - 1;
            while (structs[last] is SkipStruct)
            {
                last--;
            }
            var slice = structs.GetRange(i, last - i + 1);
            sections.Add((c.Client, slice, Math.Max(svClock - slice[0].Clock, 0)));
        }
        using var w = new ByteWriter(4096);
        UpdateCodec.WriteStructs(w, sections);
        decoded.DeleteSet.Write(w);
        return w.ToArray();
    }

    /// <summary>
    /// The state vector an update describes: per client, the end of the gap-free run of structs that
    /// starts at clock 0 (clients whose first struct starts later are left out).
    /// </summary>
    public static byte[] EncodeStateVectorFromUpdate(byte[] update)
    {
        var decoded = UpdateCodec.Decode(update);
        var sv = new List<KeyValuePair<long, int>>();
        bool firstSection = true;
        foreach (var c in decoded.Clients)
        {
            if (c.Structs.Count == 0)
            {
                continue;
            }
            var first = c.Structs[0];
            bool stop = first.Clock != 0;
            // yjs counts the very first struct of the update even when it is a skip
            int clock = !stop && firstSection ? first.End : 0;
            firstSection = false;
            foreach (var s in c.Structs)
            {
                if (s is SkipStruct)
                {
                    stop = true;
                }
                if (!stop)
                {
                    clock = s.End;
                }
            }
            if (clock > 0)
            {
                sv.Add(new KeyValuePair<long, int>(c.Client, clock));
            }
        }
        using var w = new ByteWriter(64);
        w.WriteVarUint((ulong)sv.Count);
        foreach (var (client, clock) in sv)
        {
            w.WriteVarUint(client);
            w.WriteVarUint((ulong)clock);
        }
        return w.ToArray();
    }

    /// <summary>Decodes a state vector into client → clock.</summary>
    public static IReadOnlyDictionary<long, int> DecodeStateVector(byte[] stateVector) => UpdateCodec.DecodeStateVector(stateVector);

    /// <summary>Checks that <paramref name="update"/> is a well-formed v1 update.</summary>
    /// <exception cref="YjsDecodeException">It is not.</exception>
    public static void Validate(byte[] update) => UpdateCodec.Decode(update);

    /// <summary>Whether <paramref name="update"/> is a well-formed v1 update; <paramref name="error"/> says why not.</summary>
    public static bool IsValid(byte[] update, out string? error)
    {
        try
        {
            UpdateCodec.Decode(update);
            error = null;
            return true;
        }
        catch (YjsDecodeException e)
        {
            error = e.Message;
            return false;
        }
    }
}
