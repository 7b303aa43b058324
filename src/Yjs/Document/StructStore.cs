using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs.Document;

/// <summary>
/// All structs of a document, per client, sorted by clock and without gaps. Lookups by id are a
/// binary search seeded with an interpolation guess (clocks are dense).
/// </summary>
internal sealed class StructStore
{
    public readonly Dictionary<long, List<AbstractStruct>> Clients = new();

    public int GetState(long client)
    {
        if (Clients.TryGetValue(client, out var structs) && structs.Count > 0)
        {
            var last = structs[^1];
            return last.End;
        }
        return 0;
    }

    public Dictionary<long, int> GetStateVector()
    {
        var sv = new Dictionary<long, int>(Clients.Count);
        foreach (var (client, structs) in Clients)
        {
            if (structs.Count > 0)
            {
                sv[client] = structs[^1].End;
            }
        }
        return sv;
    }

    public void AddStruct(AbstractStruct s)
    {
        if (!Clients.TryGetValue(s.Client, out var structs))
        {
            structs = new List<AbstractStruct>();
            Clients[s.Client] = structs;
        }
        else if (structs.Count > 0 && structs[^1].End != s.Clock)
        {
            throw new InvalidOperationException("Struct store invariant violated: structs must be added in clock order.");
        }
        structs.Add(s);
    }

    public static int FindIndex(List<AbstractStruct> structs, int clock)
    {
        int left = 0;
        int right = structs.Count - 1;
        var mid = structs[right];
        int midClock = mid.Clock;
        if (midClock == clock)
        {
            return right;
        }
        // interpolation guess: clocks are mostly dense
        long lastEnd = (long)midClock + mid.Length - 1;
        int midIndex = lastEnd <= 0 ? 0 : (int)((long)clock * right / lastEnd);
        if (midIndex < 0 || midIndex > right)
        {
            midIndex = right;
        }
        while (left <= right)
        {
            mid = structs[midIndex];
            midClock = mid.Clock;
            if (midClock <= clock)
            {
                if (clock < midClock + mid.Length)
                {
                    return midIndex;
                }
                left = midIndex + 1;
            }
            else
            {
                right = midIndex - 1;
            }
            midIndex = (left + right) >>> 1;
        }
        throw new InvalidOperationException("Struct store invariant violated: id not found.");
    }

    public AbstractStruct Find(long client, int clock)
    {
        var structs = Clients[client];
        return structs[FindIndex(structs, clock)];
    }

    /// <summary>The struct starting exactly at (client, clock), splitting an item if needed.</summary>
    public AbstractStruct GetItemCleanStart(Transaction tr, long client, int clock)
    {
        var structs = Clients[client];
        int index = FindIndex(structs, clock);
        var s = structs[index];
        if (s.Clock < clock && s is Item item)
        {
            var right = item.Split(tr, clock - item.Clock);
            structs.Insert(index + 1, right);
            return right;
        }
        return s;
    }

    /// <summary>The struct ending exactly at (client, clock), splitting an item if needed.</summary>
    public AbstractStruct GetItemCleanEnd(Transaction tr, long client, int clock)
    {
        var structs = Clients[client];
        int index = FindIndex(structs, clock);
        var s = structs[index];
        if (clock != s.Clock + s.Length - 1 && s is Item item)
        {
            structs.Insert(index + 1, item.Split(tr, clock - item.Clock + 1));
        }
        return s;
    }

    public void ReplaceStruct(AbstractStruct oldStruct, AbstractStruct newStruct)
    {
        var structs = Clients[oldStruct.Client];
        structs[FindIndex(structs, oldStruct.Clock)] = newStruct;
    }

    public static int FindIndexCleanStart(Transaction tr, List<AbstractStruct> structs, int clock)
    {
        int index = FindIndex(structs, clock);
        var s = structs[index];
        if (s.Clock < clock && s is Item item)
        {
            structs.Insert(index + 1, item.Split(tr, clock - item.Clock));
            return index + 1;
        }
        return index;
    }
}
