using System.Text;

namespace CollabAkka.Yjs;

/// <summary>A shared sequence of values (Y.Array).</summary>
public sealed class YArray : YType
{
    /// <summary>Creates an array that can be inserted into a document (as a nested type).</summary>
    public YArray() => Markers = new List<SearchMarker>();

    internal override ulong TypeRef => ArrayRef;

    /// <summary>Number of elements.</summary>
    public int Length => ListLength;

    /// <summary>Element at <paramref name="index"/>.</summary>
    public object? Get(int index) => ListGet(index);

    /// <summary>All elements.</summary>
    public IReadOnlyList<object?> ToList() => ListValues();

    /// <summary>Inserts values at <paramref name="index"/>. Plain values are stored as JSON-like
    /// content, <c>byte[]</c> as binary, new (not yet inserted) <see cref="YType"/>s as nested types.</summary>
    public void Insert(int index, params object?[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0)
        {
            return;
        }
        var contents = ToContents(values);
        RequireDoc().TransactLocal(tr => ListInsert(tr, index, contents));
    }

    /// <summary>Appends values.</summary>
    public void Push(params object?[] values) => Insert(ListLength, values);

    /// <summary>Deletes <paramref name="length"/> elements starting at <paramref name="index"/>.</summary>
    public void Delete(int index, int length = 1) => RequireDoc().TransactLocal(tr => ListDelete(tr, index, length));

    internal override void WriteJson(StringBuilder sb) => WriteListJson(sb);
}
