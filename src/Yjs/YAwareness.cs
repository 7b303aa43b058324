using CollabAkka.Yjs.Encoding;

namespace CollabAkka.Yjs;

/// <summary>One entry of a y-protocols awareness update: a client's state (JSON text, "null" when removed) at a clock.</summary>
public sealed record YAwarenessEntry(long ClientId, long Clock, string StateJson);

/// <summary>
/// The y-protocols awareness update format: varuint count, then per entry varuint clientID, varuint clock,
/// varstring JSON state. The server only needs to read the client ids a connection announces and to write
/// the "these clients are gone" update (state null, clock + 1) when that connection ends.
/// </summary>
public static class YAwareness
{
    /// <summary>Most entries accepted in one update.</summary>
    public const int MaxEntries = 1024;

    /// <exception cref="YjsDecodeException">The bytes are not an awareness update.</exception>
    public static IReadOnlyList<YAwarenessEntry> Decode(byte[] update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var reader = new ByteReader(update);
        var count = reader.ReadVarUintAsInt();
        if (count > MaxEntries || count > reader.Remaining)
        {
            throw reader.Error($"awareness update announces {count} entries");
        }
        var entries = new List<YAwarenessEntry>(count);
        for (var i = 0; i < count; i++)
        {
            var client = (long)reader.ReadVarUint();
            var clock = (long)reader.ReadVarUint();
            var state = reader.ReadVarString();
            entries.Add(new YAwarenessEntry(client, clock, state));
        }
        if (reader.HasContent)
        {
            throw reader.Error("unexpected bytes after the awareness entries");
        }
        return entries;
    }

    /// <summary>Encodes entries as one awareness update.</summary>
    public static byte[] Encode(IEnumerable<YAwarenessEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries as IReadOnlyCollection<YAwarenessEntry> ?? entries.ToList();
        using var writer = new ByteWriter();
        writer.WriteVarUint((ulong)list.Count);
        foreach (var entry in list)
        {
            writer.WriteVarUint((ulong)entry.ClientId);
            writer.WriteVarUint((ulong)entry.Clock);
            writer.WriteVarString(entry.StateJson);
        }
        return writer.ToArray();
    }
}
