using System.Text;
using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>
/// Base of all shared types. A type owns a linked list of items (its sequence content) and a map of
/// key → latest item (its map content); which of the two a type uses depends on its kind.
/// Values read from a type use the engine's value model: <c>null</c>, <see cref="bool"/>,
/// <see cref="double"/>, <see cref="string"/>, <c>byte[]</c>, <see cref="System.Numerics.BigInteger"/>,
/// <c>Dictionary&lt;string, object?&gt;</c>, <c>List&lt;object?&gt;</c>, nested <see cref="YType"/>s and
/// <see cref="YSubdocument"/>.
/// </summary>
public abstract class YType
{
    internal const ulong ArrayRef = 0;
    internal const ulong MapRef = 1;
    internal const ulong TextRef = 2;
    internal const ulong XmlElementRef = 3;
    internal const ulong XmlFragmentRef = 4;
    internal const ulong XmlHookRef = 5;
    internal const ulong XmlTextRef = 6;

    internal YDoc? Doc;
    internal Item? Item;
    internal Item? Start;
    internal readonly Dictionary<string, Item> MapItems = new(StringComparer.Ordinal);
    internal int ListLength;
    internal string? RootName;
    internal List<SearchMarker>? Markers;
    internal bool HasFormatting;
    private YType? _root;

    private protected YType() { }

    internal abstract ulong TypeRef { get; }

    /// <summary>The document this type belongs to, or null while it is not yet inserted.</summary>
    public YDoc? Document => Doc;

    internal virtual void WriteTypeRef(ByteWriter w) => w.WriteVarUint(TypeRef);

    internal void Integrate(YDoc doc, Item? item)
    {
        Doc = doc;
        Item = item;
    }

    /// <summary>The root type this type is (transitively) nested in.</summary>
    internal YType Root
    {
        get
        {
            if (_root != null)
            {
                return _root;
            }
            var t = this;
            while (t.Item?.Parent is { } p)
            {
                t = p;
            }
            _root = t;
            return t;
        }
    }

    internal void ClearMarkers()
    {
        if (Markers is { Count: > 0 } markers)
        {
            foreach (var m in markers)
            {
                m.Item.Marker = false;
            }
            markers.Clear();
        }
    }

    internal YDoc RequireDoc() => Doc ?? throw new InvalidOperationException("This type is not part of a document yet: insert it into a document before editing it.");

    /// <summary>The content as JSON text (see the vectors' content format).</summary>
    public string ToJson()
    {
        var sb = new StringBuilder();
        WriteJson(sb);
        return sb.ToString();
    }

    internal abstract void WriteJson(StringBuilder sb);

    // ------------------------------------------------------------------ shared list/map helpers

    internal static object? LastValue(Item item) => item.Content switch
    {
        ContentAny a => a.Values[^1],
        ContentJson j => j.Values[^1],
        ContentString s => s.Str[^1].ToString(),
        ContentBinary b => b.Bytes,
        ContentEmbed e => e.Embed,
        ContentType t => t.Type,
        ContentDoc d => new YSubdocument(d.Guid),
        _ => null,
    };

    internal static void AppendValues(Item item, List<object?> into)
    {
        switch (item.Content)
        {
            case ContentAny a: into.AddRange(a.Values); break;
            case ContentJson j: into.AddRange(j.Values); break;
            case ContentString s:
                foreach (char c in s.Str)
                {
                    into.Add(c.ToString());
                }
                break;
            case ContentBinary b: into.Add(b.Bytes); break;
            case ContentEmbed e: into.Add(e.Embed); break;
            case ContentType t: into.Add(t.Type); break;
            case ContentDoc d: into.Add(new YSubdocument(d.Guid)); break;
        }
    }

    internal List<object?> ListValues()
    {
        var list = new List<object?>(ListLength);
        for (var n = Start; n != null; n = n.Right)
        {
            if (n.IsVisibleCountable)
            {
                AppendValues(n, list);
            }
        }
        return list;
    }

    internal IEnumerable<KeyValuePair<string, object?>> MapEntries()
    {
        foreach (var (key, item) in MapItems)
        {
            if (!item.Deleted)
            {
                yield return new KeyValuePair<string, object?>(key, LastValue(item));
            }
        }
    }

    /// <summary>Writes a value as the vectors' content format (serValue of the checker).</summary>
    internal static void WriteValue(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case YType t:
                t.WriteNestedJson(sb);
                break;
            case YSubdocument d:
                sb.Append("{\"$subdoc\":");
                JsValues.WriteJsonString(sb, d.Guid);
                sb.Append('}');
                break;
            default:
                // Plain values, objects and arrays (shared types never sit inside an `any` value).
                JsValues.WriteJson(sb, value, JsValues.JsonFlavor.Content);
                break;
        }
    }

    /// <summary>How a nested value of this type is written (Text → its string, XML → its XML string).</summary>
    internal virtual void WriteNestedJson(StringBuilder sb) => WriteJson(sb);

    internal void WriteMapJson(StringBuilder sb)
    {
        sb.Append('{');
        bool first = true;
        foreach (var (key, value) in MapEntries())
        {
            if (!first)
            {
                sb.Append(',');
            }
            first = false;
            JsValues.WriteJsonString(sb, key);
            sb.Append(':');
            WriteValue(sb, value);
        }
        sb.Append('}');
    }

    internal void WriteListJson(StringBuilder sb)
    {
        sb.Append('[');
        bool first = true;
        foreach (var v in ListValues())
        {
            if (!first)
            {
                sb.Append(',');
            }
            first = false;
            WriteValue(sb, v);
        }
        sb.Append(']');
    }

    // ------------------------------------------------------------------ local edits (list)

    internal static ItemContent[] ToContents(IEnumerable<object?> values)
    {
        var result = new List<ItemContent>();
        List<object?>? json = null;
        foreach (var raw in values)
        {
            switch (raw)
            {
                case byte[] bytes:
                    Flush();
                    result.Add(new ContentBinary(bytes));
                    break;
                case YType t:
                    Flush();
                    if (t.Doc != null)
                    {
                        throw new InvalidOperationException("This type is already part of a document; insert a new instance.");
                    }
                    result.Add(new ContentType(t));
                    break;
                default:
                    (json ??= new List<object?>()).Add(JsValues.Normalize(raw));
                    break;
            }
        }
        Flush();
        return result.ToArray();

        void Flush()
        {
            if (json is { Count: > 0 })
            {
                result.Add(new ContentAny(json));
                json = null;
            }
        }
    }

    internal void InsertContentsAfter(Transaction tr, Item? reference, ItemContent[] contents)
    {
        var doc = tr.Doc;
        var left = reference;
        var right = reference == null ? Start : reference.Right;
        foreach (var content in contents)
        {
            var item = new Item(doc.ClientId, doc.Store.GetState(doc.ClientId), left, left?.Client ?? -1, left?.LastClock ?? 0, right, right?.Client ?? -1, right?.Clock ?? 0, this, null, content);
            item.Integrate(tr, 0);
            left = item;
        }
    }

    internal void ListInsert(Transaction tr, int index, ItemContent[] contents)
    {
        if (index < 0 || index > ListLength)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Index {index} is outside 0..{ListLength}.");
        }
        int total = contents.Sum(static c => c.Length);
        if (index == 0)
        {
            if (Markers != null)
            {
                SearchMarker.UpdateChanges(Markers, index, total);
            }
            InsertContentsAfter(tr, null, contents);
            return;
        }
        int startIndex = index;
        var marker = SearchMarker.Find(this, index);
        var n = Start;
        if (marker != null)
        {
            n = marker.Item;
            index -= marker.Index;
            if (index == 0)
            {
                n = n.Prev;
                index += n != null && n.IsVisibleCountable ? n.Length : 0;
            }
        }
        for (; n != null; n = n.Right)
        {
            if (n.IsVisibleCountable)
            {
                if (index <= n.Length)
                {
                    if (index < n.Length)
                    {
                        tr.Doc.Store.GetItemCleanStart(tr, n.Client, n.Clock + index);
                    }
                    break;
                }
                index -= n.Length;
            }
        }
        if (Markers != null)
        {
            SearchMarker.UpdateChanges(Markers, startIndex, total);
        }
        InsertContentsAfter(tr, n, contents);
    }

    internal void ListDelete(Transaction tr, int index, int length)
    {
        if (length == 0)
        {
            return;
        }
        if (index < 0 || length < 0 || index + length > ListLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Range {index}+{length} is outside 0..{ListLength}.");
        }
        int startIndex = index, startLength = length;
        var marker = SearchMarker.Find(this, index);
        var n = Start;
        if (marker != null)
        {
            n = marker.Item;
            index -= marker.Index;
        }
        for (; n != null && index > 0; n = n.Right)
        {
            if (n.IsVisibleCountable)
            {
                if (index < n.Length)
                {
                    tr.Doc.Store.GetItemCleanStart(tr, n.Client, n.Clock + index);
                }
                index -= n.Length;
            }
        }
        while (length > 0 && n != null)
        {
            if (!n.Deleted)
            {
                if (length < n.Length)
                {
                    tr.Doc.Store.GetItemCleanStart(tr, n.Client, n.Clock + length);
                }
                n.Delete(tr);
                length -= n.Length;
            }
            n = n.Right;
        }
        if (Markers != null)
        {
            SearchMarker.UpdateChanges(Markers, startIndex, -startLength + length);
        }
    }

    internal object? ListGet(int index)
    {
        if (index < 0 || index >= ListLength)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }
        var marker = SearchMarker.Find(this, index);
        var n = Start;
        if (marker != null)
        {
            n = marker.Item;
            index -= marker.Index;
        }
        for (; n != null; n = n.Right)
        {
            if (n.IsVisibleCountable)
            {
                if (index < n.Length)
                {
                    return n.Content switch
                    {
                        ContentAny a => a.Values[index],
                        ContentJson j => j.Values[index],
                        ContentString s => s.Str[index].ToString(),
                        _ => LastValue(n),
                    };
                }
                index -= n.Length;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    // ------------------------------------------------------------------ local edits (map)

    internal void MapSet(Transaction tr, string key, object? value)
    {
        MapItems.TryGetValue(key, out var left);
        var doc = tr.Doc;
        ItemContent content = value switch
        {
            byte[] bytes => new ContentBinary(bytes),
            YType t when t.Doc == null => new ContentType(t),
            YType => throw new InvalidOperationException("This type is already part of a document; insert a new instance."),
            _ => new ContentAny(new List<object?> { JsValues.Normalize(value) }),
        };
        var item = new Item(doc.ClientId, doc.Store.GetState(doc.ClientId), left, left?.Client ?? -1, left?.LastClock ?? 0, null, -1, 0, this, key, content);
        item.Integrate(tr, 0);
    }

    internal void MapDelete(Transaction tr, string key)
    {
        if (MapItems.TryGetValue(key, out var item))
        {
            item.Delete(tr);
        }
    }

    internal object? MapGet(string key) => MapItems.TryGetValue(key, out var item) && !item.Deleted ? LastValue(item) : null;
}

/// <summary>A reference to a subdocument stored in a document (subdocuments are not loaded).</summary>
/// <param name="Guid">The subdocument's guid.</param>
#pragma warning disable CA1720 // "guid" is the Yjs name of a subdocument's id
public sealed record YSubdocument(string Guid);
#pragma warning restore CA1720
