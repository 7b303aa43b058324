using CollabAkka.Yjs.Encoding;

namespace CollabAkka.Yjs.Structs;

/// <summary>An id in the Yjs id space: a client and a clock (UTF-16 units / elements since the client's start).</summary>
internal readonly record struct ItemId(long Client, int Clock);

/// <summary>A run of <see cref="Length"/> consecutive ids of one client: an <see cref="Item"/>, a GC or a Skip.</summary>
internal abstract class AbstractStruct
{
    public long Client;
    public int Clock;
    public int Length;

    protected AbstractStruct(long client, int clock, int length)
    {
        Client = client;
        Clock = clock;
        Length = length;
    }

    public int End => Clock + Length;

    public abstract bool Deleted { get; }

    /// <summary>Writes the struct in update format v1, leaving out its first <paramref name="offset"/> ids.</summary>
    public abstract void Write(ByteWriter w, int offset);

    /// <summary>Appends <paramref name="right"/> (which directly follows this struct) if the kinds allow it.</summary>
    public abstract bool MergeWith(AbstractStruct right);
}

/// <summary>Garbage-collected ids: content and position are gone, only the id range remains.</summary>
internal sealed class GcStruct : AbstractStruct
{
    public GcStruct(long client, int clock, int length) : base(client, clock, length) { }

    public override bool Deleted => true;

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteByte(0);
        w.WriteVarUint((ulong)(Length - offset));
    }

    public override bool MergeWith(AbstractStruct right)
    {
        if (right is not GcStruct)
        {
            return false;
        }
        Length += right.Length;
        return true;
    }
}

/// <summary>A gap in an update: ids the update does not carry. Never part of a document.</summary>
internal sealed class SkipStruct : AbstractStruct
{
    public SkipStruct(long client, int clock, int length) : base(client, clock, length) { }

    public override bool Deleted => true;

    public override void Write(ByteWriter w, int offset)
    {
        w.WriteByte(10);
        w.WriteVarUint((ulong)(Length - offset));
    }

    public override bool MergeWith(AbstractStruct right)
    {
        if (right is not SkipStruct)
        {
            return false;
        }
        Length += right.Length;
        return true;
    }
}
