using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>
/// Remembers (item, index) pairs of recent lookups in a long list so that the next lookup near the
/// same place walks a few items instead of the whole list. Same scheme as yjs: at most
/// <see cref="MaxMarkers"/> markers, the least recently used one is recycled.
/// </summary>
internal sealed class SearchMarker
{
    private const int MaxMarkers = 80;
    private static long s_timestamp;

    public Item Item;
    public int Index;
    public long Timestamp;

    private SearchMarker(Item item, int index)
    {
        Item = item;
        Index = index;
        item.Marker = true;
        Timestamp = s_timestamp++;
    }

    private void Overwrite(Item item, int index)
    {
        Item.Marker = false;
        Item = item;
        item.Marker = true;
        Index = index;
        Timestamp = s_timestamp++;
    }

    public static SearchMarker? Find(YType type, int index)
    {
        var markers = type.Markers;
        if (type.Start == null || index == 0 || markers == null)
        {
            return null;
        }
        SearchMarker? marker = null;
        int best = int.MaxValue;
        foreach (var m in markers)
        {
            int d = Math.Abs(index - m.Index);
            if (d < best)
            {
                best = d;
                marker = m;
            }
        }
        var p = type.Start;
        int pindex = 0;
        if (marker != null)
        {
            p = marker.Item;
            pindex = marker.Index;
            marker.Timestamp = s_timestamp++;
        }
        while (p.Right != null && pindex < index)
        {
            if (p.IsVisibleCountable)
            {
                if (index < pindex + p.Length)
                {
                    break;
                }
                pindex += p.Length;
            }
            p = p.Right;
        }
        while (p.Left != null && pindex > index)
        {
            p = p.Left;
            if (p.IsVisibleCountable)
            {
                pindex -= p.Length;
            }
        }
        // make sure p cannot be merged with its left neighbour, which would invalidate the marker
        while (p.Left != null && p.Left.Client == p.Client && p.Left.End == p.Clock)
        {
            p = p.Left;
            if (p.IsVisibleCountable)
            {
                pindex -= p.Length;
            }
        }
        if (marker != null && Math.Abs(marker.Index - pindex) < (double)type.ListLength / MaxMarkers)
        {
            marker.Overwrite(p, pindex);
            return marker;
        }
        if (markers.Count >= MaxMarkers)
        {
            var oldest = markers[0];
            foreach (var m in markers)
            {
                if (m.Timestamp < oldest.Timestamp)
                {
                    oldest = m;
                }
            }
            oldest.Overwrite(p, pindex);
            return oldest;
        }
        var created = new SearchMarker(p, pindex);
        markers.Add(created);
        return created;
    }

    /// <summary>Shifts markers after a local insert (len &gt; 0) or delete (len &lt; 0) at index.</summary>
    public static void UpdateChanges(List<SearchMarker> markers, int index, int len)
    {
        for (int i = markers.Count - 1; i >= 0; i--)
        {
            var m = markers[i];
            if (len > 0)
            {
                Item? p = m.Item;
                p.Marker = false;
                while (p != null && (p.Deleted || !p.Countable))
                {
                    p = p.Left;
                    if (p != null && p.IsVisibleCountable)
                    {
                        m.Index -= p.Length;
                    }
                }
                if (p == null || p.Marker)
                {
                    markers.RemoveAt(i);
                    continue;
                }
                m.Item = p;
                p.Marker = true;
            }
            if (index < m.Index || (len > 0 && index == m.Index))
            {
                m.Index = Math.Max(index, m.Index + len);
            }
        }
    }
}
