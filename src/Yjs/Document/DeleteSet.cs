using CollabAkka.Yjs.Encoding;

namespace CollabAkka.Yjs.Document;

/// <summary>A deleted id range of one client.</summary>
internal struct DeleteRange
{
    public int Clock;
    public int Length;

    public DeleteRange(int clock, int length)
    {
        Clock = clock;
        Length = length;
    }

    public readonly int End => Clock + Length;
}

/// <summary>Deleted id ranges per client. Ranges are appended freely; <see cref="SortAndMerge"/> normalises.</summary>
internal sealed class DeleteSet
{
    public readonly Dictionary<long, List<DeleteRange>> Clients = new();

    public bool IsEmpty => Clients.Count == 0;

    public void Add(long client, int clock, int length)
    {
        if (length <= 0)
        {
            return;
        }
        if (!Clients.TryGetValue(client, out var list))
        {
            list = new List<DeleteRange>(2);
            Clients[client] = list;
        }
        // cheap coalescing of the common "extend the last range" case
        if (list.Count > 0)
        {
            var last = list[^1];
            if (last.End == clock)
            {
                list[^1] = new DeleteRange(last.Clock, last.Length + length);
                return;
            }
        }
        list.Add(new DeleteRange(clock, length));
    }

    public void SortAndMerge()
    {
        foreach (var dels in Clients.Values)
        {
            SortAndMerge(dels);
        }
    }

    public static void SortAndMerge(List<DeleteRange> dels)
    {
        if (dels.Count < 2)
        {
            return;
        }
        bool sorted = true;
        for (int i = 1; i < dels.Count && sorted; i++)
        {
            sorted = dels[i - 1].Clock <= dels[i].Clock;
        }
        if (!sorted)
        {
            dels.Sort(static (a, b) => a.Clock.CompareTo(b.Clock));
        }
        int j = 1;
        for (int i = 1; i < dels.Count; i++)
        {
            var left = dels[j - 1];
            var right = dels[i];
            if (left.End >= right.Clock)
            {
                dels[j - 1] = new DeleteRange(left.Clock, Math.Max(left.End, right.End) - left.Clock);
            }
            else
            {
                dels[j++] = right;
            }
        }
        dels.RemoveRange(j, dels.Count - j);
    }

    public bool IsDeleted(long client, int clock)
    {
        if (!Clients.TryGetValue(client, out var dels))
        {
            return false;
        }
        int lo = 0, hi = dels.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var d = dels[mid];
            if (d.Clock <= clock)
            {
                if (clock < d.End)
                {
                    return true;
                }
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return false;
    }

    public static DeleteSet Merge(IEnumerable<DeleteSet> sets)
    {
        var merged = new DeleteSet();
        foreach (var ds in sets)
        {
            foreach (var (client, dels) in ds.Clients)
            {
                if (!merged.Clients.TryGetValue(client, out var list))
                {
                    list = new List<DeleteRange>(dels.Count);
                    merged.Clients[client] = list;
                }
                list.AddRange(dels);
            }
        }
        merged.SortAndMerge();
        return merged;
    }

    public void Write(ByteWriter w)
    {
        int count = 0;
        foreach (var dels in Clients.Values)
        {
            if (dels.Count > 0)
            {
                count++;
            }
        }
        w.WriteVarUint((ulong)count);
        if (count == 0)
        {
            return;
        }
        var clients = new List<long>(Clients.Count);
        foreach (var (client, dels) in Clients)
        {
            if (dels.Count > 0)
            {
                clients.Add(client);
            }
        }
        clients.Sort(static (a, b) => b.CompareTo(a));
        foreach (var client in clients)
        {
            var dels = Clients[client];
            w.WriteVarUint(client);
            w.WriteVarUint((ulong)dels.Count);
            foreach (var d in dels)
            {
                w.WriteVarUint((ulong)d.Clock);
                w.WriteVarUint((ulong)d.Length);
            }
        }
    }

    public static DeleteSet Read(ByteReader r)
    {
        var ds = new DeleteSet();
        ulong numClients = r.ReadVarUint();
        for (ulong i = 0; i < numClients; i++)
        {
            long client = (long)r.ReadVarUint();
            ulong n = r.ReadVarUint();
            if (n == 0)
            {
                continue;
            }
            if (!ds.Clients.TryGetValue(client, out var list))
            {
                list = new List<DeleteRange>((int)Math.Min(n, (ulong)r.Remaining / 2));
                ds.Clients[client] = list;
            }
            for (ulong k = 0; k < n; k++)
            {
                int clock = r.ReadVarUintAsInt();
                int len = r.ReadVarUintAsInt();
                if ((long)clock + len > int.MaxValue)
                {
                    throw r.Error("Delete range out of range");
                }
                if (len > 0)
                {
                    list.Add(new DeleteRange(clock, len));
                }
            }
        }
        return ds;
    }
}
