using CollabAkka.Yjs.Document;
using CollabAkka.Yjs.Encoding;

namespace CollabAkka.Yjs.Structs;

/// <summary>What an <see cref="Item"/> holds. <see cref="Length"/> counts ids (UTF-16 units for strings).</summary>
internal abstract class ItemContent
{
    public abstract int Length { get; }

    public abstract bool Countable { get; }

    /// <summary>Content reference number of the update format (1..9).</summary>
    public abstract int Ref { get; }

    /// <summary>Keeps the first <paramref name="offset"/> units here and returns the rest.</summary>
    public virtual ItemContent Splice(int offset) => throw new InvalidOperationException("Content of length 1 cannot be split.");

    public virtual bool TryMerge(ItemContent right) => false;

    public virtual void Integrate(Transaction tr, Item item) { }

    public virtual void Delete(Transaction tr) { }

    public virtual void Gc(StructStore store) { }

    public abstract void Write(ByteWriter w, int offset);
}

internal sealed class ContentDeleted : ItemContent
{
    private int _length;

    public ContentDeleted(int length) => _length = length;

    public override int Length => _length;

    public override bool Countable => false;

    public override int Ref => 1;

    public override ItemContent Splice(int offset)
    {
        var right = new ContentDeleted(_length - offset);
        _length = offset;
        return right;
    }

    public override bool TryMerge(ItemContent right)
    {
        _length += right.Length;
        return true;
    }

    public override void Integrate(Transaction tr, Item item)
    {
        tr.DeleteSet.Add(item.Client, item.Clock, _length);
        item.MarkDeleted();
    }

    public override void Write(ByteWriter w, int offset) => w.WriteVarUint((ulong)(_length - offset));
}

/// <summary>Legacy JSON content: every element is a JSON text, or the literal <c>undefined</c>.</summary>
internal sealed class ContentJson : ItemContent
{
    public List<object?> Values;

    public ContentJson(List<object?> values) => Values = values;

    public override int Length => Values.Count;

    public override bool Countable => true;

    public override int Ref => 2;

    public override ItemContent Splice(int offset)
    {
        var right = new ContentJson(Values.GetRange(offset, Values.Count - offset));
        Values.RemoveRange(offset, Values.Count - offset);
        return right;
    }

    public override bool TryMerge(ItemContent right)
    {
        Values.AddRange(((ContentJson)right).Values);
        return true;
    }

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteVarUint((ulong)(Values.Count - offset));
        for (int i = offset; i < Values.Count; i++)
        {
            w.WriteVarString(Values[i] is JsUndefined ? "undefined" : JsValues.Stringify(Values[i]));
        }
    }
}

internal sealed class ContentBinary : ItemContent
{
    public readonly byte[] Bytes;

    public ContentBinary(byte[] bytes) => Bytes = bytes;

    public override int Length => 1;

    public override bool Countable => true;

    public override int Ref => 3;

    public override void Write(ByteWriter w, int offset) => w.WriteVarBytes(Bytes);
}

/// <summary>Text. Lengths and split offsets are UTF-16 units, like JavaScript strings.</summary>
internal sealed class ContentString : ItemContent
{
    public string Str;

    public ContentString(string str) => Str = str;

    public override int Length => Str.Length;

    public override bool Countable => true;

    public override int Ref => 4;

    public override ItemContent Splice(int offset)
    {
        string left = Str[..offset];
        string right = Str[offset..];
        // A split surrogate pair becomes two U+FFFD, as in yjs (issue #248).
        if (char.IsHighSurrogate(left[^1]))
        {
            left = string.Concat(left.AsSpan(0, left.Length - 1), "\uFFFD");
            right = string.Concat("\uFFFD", right.AsSpan(1));
        }
        Str = left;
        return new ContentString(right);
    }

    public override bool TryMerge(ItemContent right)
    {
        Str = string.Concat(Str, ((ContentString)right).Str);
        return true;
    }

    public override void Write(ByteWriter w, int offset) => w.WriteVarString(offset == 0 ? Str : Str[offset..]);
}

internal sealed class ContentEmbed : ItemContent
{
    public readonly object? Embed;

    public ContentEmbed(object? embed) => Embed = embed;

    public override int Length => 1;

    public override bool Countable => true;

    public override int Ref => 5;

    public override void Write(ByteWriter w, int offset) => w.WriteVarString(JsValues.Stringify(Embed));
}

internal sealed class ContentFormat : ItemContent
{
    public readonly string Key;
    public readonly object? Value;

    public ContentFormat(string key, object? value)
    {
        Key = key;
        Value = value;
    }

    public override int Length => 1;

    public override bool Countable => false;

    public override int Ref => 6;

    public override void Integrate(Transaction tr, Item item)
    {
        if (item.Parent is { } p)
        {
            // Like yjs: no search markers in rich text.
            p.Markers = null;
            p.HasFormatting = true;
        }
    }

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteVarString(Key);
        w.WriteVarString(JsValues.Stringify(Value));
    }
}

internal sealed class ContentType : ItemContent
{
    public readonly YType Type;

    public ContentType(YType type) => Type = type;

    public override int Length => 1;

    public override bool Countable => true;

    public override int Ref => 7;

    public override void Integrate(Transaction tr, Item item) => Type.Integrate(tr.Doc, item);

    public override void Delete(Transaction tr)
    {
        for (var item = Type.Start; item != null; item = item.Right)
        {
            if (!item.Deleted)
            {
                item.Delete(tr);
            }
            else if (item.Clock < tr.BeforeStateOf(item.Client))
            {
                tr.MergeStructs.Add(item);
            }
        }
        foreach (var item in Type.MapItems.Values)
        {
            if (!item.Deleted)
            {
                item.Delete(tr);
            }
            else if (item.Clock < tr.BeforeStateOf(item.Client))
            {
                tr.MergeStructs.Add(item);
            }
        }
    }

    public override void Gc(StructStore store)
    {
        for (var item = Type.Start; item != null; item = item.Right)
        {
            item.Gc(store, parentGcd: true);
        }
        Type.Start = null;
        foreach (var entry in Type.MapItems.Values)
        {
            for (Item? item = entry; item != null; item = item.Left)
            {
                item.Gc(store, parentGcd: true);
            }
        }
        Type.MapItems.Clear();
    }

    public override void Write(ByteWriter w, int offset) => Type.WriteTypeRef(w);
}

internal sealed class ContentAny : ItemContent
{
    public List<object?> Values;

    public ContentAny(List<object?> values) => Values = values;

    public override int Length => Values.Count;

    public override bool Countable => true;

    public override int Ref => 8;

    public override ItemContent Splice(int offset)
    {
        var right = new ContentAny(Values.GetRange(offset, Values.Count - offset));
        Values.RemoveRange(offset, Values.Count - offset);
        return right;
    }

    public override bool TryMerge(ItemContent right)
    {
        Values.AddRange(((ContentAny)right).Values);
        return true;
    }

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteVarUint((ulong)(Values.Count - offset));
        for (int i = offset; i < Values.Count; i++)
        {
            JsValues.WriteAny(w, Values[i]);
        }
    }
}

/// <summary>A subdocument reference: its guid and options. Subdocuments are not loaded by this engine.</summary>
internal sealed class ContentDoc : ItemContent
{
    public readonly string Guid;
    public readonly object? Options;

    public ContentDoc(string guid, object? options)
    {
        Guid = guid;
        Options = options;
    }

    public override int Length => 1;

    public override bool Countable => true;

    public override int Ref => 9;

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteVarString(Guid);
        JsValues.WriteAny(w, Options);
    }
}
