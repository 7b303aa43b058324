using System.Text;
using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>One run of a text's delta: inserted text (or an embed / nested type) with its formatting.</summary>
/// <param name="Insert">A <see cref="string"/>, an embed value, or a nested <see cref="YType"/>.</param>
/// <param name="Attributes">Formatting attributes, or null when the run is unformatted.</param>
public sealed record YTextDelta(object? Insert, IReadOnlyDictionary<string, object?>? Attributes);

/// <summary>
/// Shared rich text (Y.Text). Indexes and lengths count UTF-16 code units, as in JavaScript.
/// Formatting is stored as format markers in the sequence; an attribute value of null removes it.
/// </summary>
public class YText : YType
{
    /// <summary>Creates a text that can be inserted into a document (as a nested type).</summary>
    public YText() => Markers = new List<SearchMarker>();

    internal override ulong TypeRef => TextRef;

    /// <summary>Length in UTF-16 code units (embeds count 1).</summary>
    public int Length => ListLength;

    /// <summary>The plain text (embeds and formatting left out).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        for (var n = Start; n != null; n = n.Right)
        {
            if (!n.Deleted && n.Content is ContentString s)
            {
                sb.Append(s.Str);
            }
        }
        return sb.ToString();
    }

    /// <summary>The content as a list of runs with equal formatting (Y.Text.toDelta()).</summary>
    public IReadOnlyList<YTextDelta> ToDelta()
    {
        var ops = new List<YTextDelta>();
        var current = new Dictionary<string, object?>(StringComparer.Ordinal);
        var str = new StringBuilder();
        void Pack()
        {
            if (str.Length > 0)
            {
                ops.Add(new YTextDelta(str.ToString(), current.Count > 0 ? new Dictionary<string, object?>(current, StringComparer.Ordinal) : null));
                str.Clear();
            }
        }
        for (var n = Start; n != null; n = n.Right)
        {
            if (n.Deleted)
            {
                continue;
            }
            switch (n.Content)
            {
                case ContentString s:
                    str.Append(s.Str);
                    break;
                case ContentType or ContentEmbed:
                    Pack();
                    ops.Add(new YTextDelta(LastValue(n), current.Count > 0 ? new Dictionary<string, object?>(current, StringComparer.Ordinal) : null));
                    break;
                case ContentFormat f:
                    Pack();
                    UpdateCurrentAttributes(current, f);
                    break;
            }
        }
        Pack();
        return ops;
    }

    /// <summary>Inserts text. Without <paramref name="attributes"/> the text takes the formatting at the position.</summary>
    public void Insert(int index, string text, IReadOnlyDictionary<string, object?>? attributes = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return;
        }
        RequireDoc().TransactLocal(tr =>
        {
            var pos = FindPosition(tr, index, useSearchMarker: attributes == null);
            Dictionary<string, object?> attrs;
            if (attributes == null)
            {
                attrs = new Dictionary<string, object?>(pos.CurrentAttributes, StringComparer.Ordinal);
            }
            else
            {
                attrs = NormalizeAttributes(attributes);
            }
            InsertText(tr, pos, new ContentString(text), attrs);
        });
    }

    /// <summary>Inserts an embed (a JSON-like object) or a new nested type at <paramref name="index"/>.</summary>
    public void InsertEmbed(int index, object embed, IReadOnlyDictionary<string, object?>? attributes = null)
    {
        ArgumentNullException.ThrowIfNull(embed);
        ItemContent content = embed is YType t ? new ContentType(t) : new ContentEmbed(JsValues.Normalize(embed));
        RequireDoc().TransactLocal(tr =>
        {
            var pos = FindPosition(tr, index, useSearchMarker: attributes == null);
            InsertText(tr, pos, content, attributes == null ? new Dictionary<string, object?>(StringComparer.Ordinal) : NormalizeAttributes(attributes));
        });
    }

    /// <summary>Deletes <paramref name="length"/> units starting at <paramref name="index"/>.</summary>
    public void Delete(int index, int length)
    {
        if (length == 0)
        {
            return;
        }
        if (index < 0 || length < 0 || index + length > ListLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Range {index}+{length} is outside 0..{ListLength}.");
        }
        RequireDoc().TransactLocal(tr => DeleteText(tr, FindPosition(tr, index, useSearchMarker: true), length));
    }

    /// <summary>Applies formatting attributes to a range (null values remove an attribute).</summary>
    public void Format(int index, int length, IReadOnlyDictionary<string, object?> attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (length == 0)
        {
            return;
        }
        RequireDoc().TransactLocal(tr =>
        {
            var pos = FindPosition(tr, index, useSearchMarker: false);
            if (pos.Right == null)
            {
                return;
            }
            FormatText(tr, pos, length, NormalizeAttributes(attributes));
        });
    }

    internal override void WriteJson(StringBuilder sb) => JsValues.WriteJsonString(sb, ToString());

    /// <summary>The delta as JSON: <c>[{"insert": ..., "attributes": {...}}, ...]</c> (binary as <c>{"$binary": base64}</c>).</summary>
    public string ToDeltaJson()
    {
        var sb = new StringBuilder();
        WriteDeltaJson(sb);
        return sb.ToString();
    }

    internal void WriteDeltaJson(StringBuilder sb)
    {
        sb.Append('[');
        bool first = true;
        foreach (var op in ToDelta())
        {
            if (!first)
            {
                sb.Append(',');
            }
            first = false;
            sb.Append("{\"insert\":");
            if (op.Insert is string s)
            {
                JsValues.WriteJsonString(sb, s);
            }
            else
            {
                WriteValue(sb, op.Insert);
            }
            if (op.Attributes is { Count: > 0 } attrs)
            {
                sb.Append(",\"attributes\":");
                WriteValue(sb, new Dictionary<string, object?>(attrs, StringComparer.Ordinal));
            }
            sb.Append('}');
        }
        sb.Append(']');
    }

    private static Dictionary<string, object?> NormalizeAttributes(IReadOnlyDictionary<string, object?> attributes)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in attributes)
        {
            d[k] = JsValues.Normalize(v);
        }
        return d;
    }

    // ------------------------------------------------------------------ formatting-aware editing (port of yjs' YText internals)

    private sealed class TextPosition
    {
        public Item? Left;
        public Item? Right;
        public int Index;
        public readonly Dictionary<string, object?> CurrentAttributes;

        public TextPosition(Item? left, Item? right, int index, Dictionary<string, object?> currentAttributes)
        {
            Left = left;
            Right = right;
            Index = index;
            CurrentAttributes = currentAttributes;
        }

        public void Forward()
        {
            var right = Right ?? throw new InvalidOperationException("Cannot move past the end of the text.");
            if (!right.Deleted)
            {
                if (right.Content is ContentFormat f)
                {
                    UpdateCurrentAttributes(CurrentAttributes, f);
                }
                else if (right.Countable)
                {
                    Index += right.Length;
                }
            }
            Left = right;
            Right = right.Right;
        }
    }

    private static void UpdateCurrentAttributes(Dictionary<string, object?> attrs, ContentFormat f)
    {
        if (f.Value == null)
        {
            attrs.Remove(f.Key);
        }
        else
        {
            attrs[f.Key] = f.Value;
        }
    }

    private TextPosition FindPosition(Transaction tr, int index, bool useSearchMarker)
    {
        if (index < 0 || index > ListLength)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Index {index} is outside 0..{ListLength}.");
        }
        var attrs = new Dictionary<string, object?>(StringComparer.Ordinal);
        var marker = useSearchMarker ? SearchMarker.Find(this, index) : null;
        var pos = marker != null
            ? new TextPosition(marker.Item.Left, marker.Item, marker.Index, attrs)
            : new TextPosition(null, Start, 0, attrs);
        return FindNextPosition(tr, pos, index - pos.Index);
    }

    private static TextPosition FindNextPosition(Transaction tr, TextPosition pos, int count)
    {
        while (pos.Right != null && count > 0)
        {
            var right = pos.Right;
            if (!right.Deleted)
            {
                if (right.Content is ContentFormat f)
                {
                    UpdateCurrentAttributes(pos.CurrentAttributes, f);
                }
                else if (right.Countable)
                {
                    if (count < right.Length)
                    {
                        tr.Doc.Store.GetItemCleanStart(tr, right.Client, right.Clock + count);
                    }
                    pos.Index += right.Length;
                    count -= right.Length;
                }
            }
            pos.Left = pos.Right;
            pos.Right = pos.Right.Right;
        }
        return pos;
    }

    private Item NewItem(Transaction tr, Item? left, Item? right, ItemContent content)
    {
        var doc = tr.Doc;
        return new Item(doc.ClientId, doc.Store.GetState(doc.ClientId), left, left?.Client ?? -1, left?.LastClock ?? 0, right, right?.Client ?? -1, right?.Clock ?? 0, this, null, content);
    }

    private void InsertNegatedAttributes(Transaction tr, TextPosition pos, Dictionary<string, object?> negated)
    {
        while (pos.Right != null && (pos.Right.Deleted || (pos.Right.Content is ContentFormat f && negated.TryGetValue(f.Key, out var nv) && JsValues.EqualAttrs(nv, f.Value))))
        {
            if (!pos.Right.Deleted)
            {
                negated.Remove(((ContentFormat)pos.Right.Content).Key);
            }
            pos.Forward();
        }
        foreach (var (key, val) in negated)
        {
            var item = NewItem(tr, pos.Left, pos.Right, new ContentFormat(key, val));
            item.Integrate(tr, 0);
            pos.Right = item;
            pos.Forward();
        }
    }

    private static void MinimizeAttributeChanges(TextPosition pos, Dictionary<string, object?> attributes)
    {
        while (pos.Right != null)
        {
            if (pos.Right.Deleted || (pos.Right.Content is ContentFormat f && JsValues.EqualAttrs(attributes.TryGetValue(f.Key, out var v) ? v : null, f.Value)))
            {
                pos.Forward();
            }
            else
            {
                break;
            }
        }
    }

    private Dictionary<string, object?> InsertAttributes(Transaction tr, TextPosition pos, Dictionary<string, object?> attributes)
    {
        var negated = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, val) in attributes)
        {
            var currentVal = pos.CurrentAttributes.TryGetValue(key, out var cv) ? cv : null;
            if (!JsValues.EqualAttrs(currentVal, val))
            {
                negated[key] = currentVal;
                var item = NewItem(tr, pos.Left, pos.Right, new ContentFormat(key, val));
                item.Integrate(tr, 0);
                pos.Right = item;
                pos.Forward();
            }
        }
        return negated;
    }

    private void InsertText(Transaction tr, TextPosition pos, ItemContent content, Dictionary<string, object?> attributes)
    {
        foreach (var key in pos.CurrentAttributes.Keys)
        {
            attributes.TryAdd(key, null);
        }
        MinimizeAttributeChanges(pos, attributes);
        var negated = InsertAttributes(tr, pos, attributes);
        if (Markers != null)
        {
            SearchMarker.UpdateChanges(Markers, pos.Index, content.Length);
        }
        int index = pos.Index;
        var item = NewItem(tr, pos.Left, pos.Right, content);
        item.Integrate(tr, 0);
        pos.Right = item;
        pos.Index = index;
        pos.Forward();
        InsertNegatedAttributes(tr, pos, negated);
    }

    private void FormatText(Transaction tr, TextPosition pos, int length, Dictionary<string, object?> attributes)
    {
        MinimizeAttributeChanges(pos, attributes);
        var negated = InsertAttributes(tr, pos, attributes);
        while (pos.Right != null && (length > 0 || (negated.Count > 0 && (pos.Right.Deleted || pos.Right.Content is ContentFormat))))
        {
            var right = pos.Right;
            if (!right.Deleted)
            {
                if (right.Content is ContentFormat f)
                {
                    if (attributes.TryGetValue(f.Key, out var attr))
                    {
                        if (JsValues.EqualAttrs(attr, f.Value))
                        {
                            negated.Remove(f.Key);
                        }
                        else
                        {
                            if (length == 0)
                            {
                                break;
                            }
                            negated[f.Key] = f.Value;
                        }
                        right.Delete(tr);
                    }
                    else
                    {
                        pos.CurrentAttributes[f.Key] = f.Value;
                    }
                }
                else if (right.Countable)
                {
                    if (length < right.Length)
                    {
                        tr.Doc.Store.GetItemCleanStart(tr, right.Client, right.Clock + length);
                    }
                    length -= right.Length;
                }
            }
            pos.Forward();
        }
        if (length > 0)
        {
            var item = NewItem(tr, pos.Left, pos.Right, new ContentString(new string('\n', length)));
            item.Integrate(tr, 0);
            pos.Right = item;
            pos.Forward();
        }
        InsertNegatedAttributes(tr, pos, negated);
    }

    private void DeleteText(Transaction tr, TextPosition pos, int length)
    {
        int startLength = length;
        while (length > 0 && pos.Right != null)
        {
            var right = pos.Right;
            if (!right.Deleted && right.Content is ContentString or ContentEmbed or ContentType)
            {
                if (length < right.Length)
                {
                    tr.Doc.Store.GetItemCleanStart(tr, right.Client, right.Clock + length);
                }
                length -= right.Length;
                right.Delete(tr);
            }
            pos.Forward();
        }
        if (Markers != null)
        {
            SearchMarker.UpdateChanges(Markers, pos.Index, -startLength + length);
        }
    }
}
