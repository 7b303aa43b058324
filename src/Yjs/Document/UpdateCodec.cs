using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs.Document;

/// <summary>The structs of one client in an update, contiguous from the first struct's clock.</summary>
internal sealed class ClientStructs
{
    public readonly long Client;
    public readonly List<AbstractStruct> Structs;
    public int Next;

    public ClientStructs(long client, List<AbstractStruct> structs)
    {
        Client = client;
        Structs = structs;
    }
}

/// <summary>A fully decoded v1 update: nothing in it is attached to a document yet.</summary>
internal sealed class DecodedUpdate
{
    public readonly List<ClientStructs> Clients;
    public readonly DeleteSet DeleteSet;

    public DecodedUpdate(List<ClientStructs> clients, DeleteSet deleteSet)
    {
        Clients = clients;
        DeleteSet = deleteSet;
    }
}

/// <summary>Reads and writes update format v1.</summary>
internal static class UpdateCodec
{
    public static DecodedUpdate Decode(byte[] update, int maxDepth = YLimits.MaxSupportedDepth)
    {
        ArgumentNullException.ThrowIfNull(update);
        var r = new ByteReader(update) { MaxDepth = maxDepth };
        try
        {
            var clients = ReadStructs(r);
            var ds = DeleteSet.Read(r);
            if (r.HasContent)
            {
                throw r.Error("Unexpected bytes after the delete set");
            }
            return new DecodedUpdate(clients, ds);
        }
        catch (YjsDecodeException)
        {
            throw;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException or FormatException or IndexOutOfRangeException)
        {
            throw new YjsDecodeException($"Malformed update (at byte {r.Position}): {e.Message}", e) { Offset = r.Position };
        }
    }

    private static List<ClientStructs> ReadStructs(ByteReader r)
    {
        ulong numClients = r.ReadVarUint();
        var result = new List<ClientStructs>((int)Math.Min(numClients, 64));
        HashSet<long>? seen = numClients > 1 ? new HashSet<long>() : null;
        for (ulong c = 0; c < numClients; c++)
        {
            ulong numStructs = r.ReadVarUint();
            long client = (long)r.ReadVarUint();
            int clock = r.ReadVarUintAsInt();
            if (seen != null && !seen.Add(client))
            {
                throw r.Error($"Client {client} appears twice in the update");
            }
            var structs = new List<AbstractStruct>((int)Math.Min(numStructs, (ulong)r.Remaining));
            for (ulong i = 0; i < numStructs; i++)
            {
                var s = ReadStruct(r, client, clock);
                if ((long)s.Clock + s.Length > int.MaxValue)
                {
                    throw r.Error("Clock out of range");
                }
                clock = s.End;
                structs.Add(s);
            }
            result.Add(new ClientStructs(client, structs));
        }
        return result;
    }

    private static AbstractStruct ReadStruct(ByteReader r, long client, int clock)
    {
        byte info = r.ReadByte();
        int contentRef = info & 0x1F;
        switch (contentRef)
        {
            case 0:
                {
                    int len = r.ReadVarUintAsInt();
                    if (len == 0)
                    {
                        throw r.Error("Empty GC struct");
                    }
                    return new GcStruct(client, clock, len);
                }
            case 10:
                {
                    int len = r.ReadVarUintAsInt();
                    if (len == 0)
                    {
                        throw r.Error("Empty skip struct");
                    }
                    return new SkipStruct(client, clock, len);
                }
            case > 10:
                throw r.Error($"Unknown struct content type {contentRef}");
        }
        long originClient = -1, rightOriginClient = -1;
        int originClock = 0, rightOriginClock = 0;
        if ((info & 0x80) != 0)
        {
            originClient = (long)r.ReadVarUint();
            originClock = r.ReadVarUintAsInt();
        }
        if ((info & 0x40) != 0)
        {
            rightOriginClient = (long)r.ReadVarUint();
            rightOriginClock = r.ReadVarUintAsInt();
        }
        object? parentRef = null;
        string? parentSub = null;
        if ((info & 0xC0) == 0)
        {
            ulong parentInfo = r.ReadVarUint();
            if (parentInfo == 1)
            {
                parentRef = r.ReadVarString();
            }
            else if (parentInfo == 0)
            {
                long pc = (long)r.ReadVarUint();
                int pclock = r.ReadVarUintAsInt();
                parentRef = new ItemId(pc, pclock);
            }
            else
            {
                throw r.Error("Invalid parent info");
            }
            if ((info & 0x20) != 0)
            {
                parentSub = r.ReadVarString();
            }
        }
        var content = ReadContent(r, contentRef);
        if (content.Length == 0)
        {
            throw r.Error("Empty item content");
        }
        return new Item(client, clock, null, originClient, originClock, null, rightOriginClient, rightOriginClock, null, parentSub, content)
        {
            ParentRef = parentRef,
        };
    }

    private static ItemContent ReadContent(ByteReader r, int contentRef)
    {
        switch (contentRef)
        {
            case 1: return new ContentDeleted(r.ReadVarUintAsInt());
            case 2:
                {
                    ulong len = r.ReadVarUint();
                    var values = new List<object?>((int)Math.Min(len, (ulong)r.Remaining));
                    for (ulong i = 0; i < len; i++)
                    {
                        string s = r.ReadVarString();
                        values.Add(s == "undefined" ? JsUndefined.Instance : JsValues.ParseJson(s, r));
                    }
                    return new ContentJson(values);
                }
            case 3: return new ContentBinary(r.ReadVarBytes());
            case 4: return new ContentString(r.ReadVarString());
            case 5: return new ContentEmbed(JsValues.ParseJson(r.ReadVarString(), r));
            case 6:
                {
                    string key = r.ReadVarString();
                    return new ContentFormat(key, JsValues.ParseJson(r.ReadVarString(), r));
                }
            case 7: return new ContentType(ReadType(r));
            case 8:
                {
                    ulong len = r.ReadVarUint();
                    var values = new List<object?>((int)Math.Min(len, (ulong)r.Remaining));
                    for (ulong i = 0; i < len; i++)
                    {
                        values.Add(JsValues.ReadAny(r));
                    }
                    return new ContentAny(values);
                }
            case 9:
                {
                    string guid = r.ReadVarString();
                    return new ContentDoc(guid, JsValues.ReadAny(r));
                }
            default:
                throw r.Error($"Unknown content type {contentRef}");
        }
    }

    private static YType ReadType(ByteReader r)
    {
        ulong typeRef = r.ReadVarUint();
        return typeRef switch
        {
            YType.ArrayRef => new YArray(),
            YType.MapRef => new YMap(),
            YType.TextRef => new YText(),
            YType.XmlElementRef => new YXmlElement(r.ReadVarString()),
            YType.XmlFragmentRef => new YXmlFragment(),
            YType.XmlHookRef => new YXmlHook(r.ReadVarString()),
            YType.XmlTextRef => new YXmlText(),
            _ => throw r.Error($"Unknown type reference {typeRef}"),
        };
    }

    /// <summary>Writes client sections (highest client first); each entry is a contiguous struct run whose first struct is written from an offset.</summary>
    public static void WriteStructs(ByteWriter w, List<(long Client, List<AbstractStruct> Structs, int FirstOffset)> sections)
    {
        sections.Sort(static (a, b) => b.Client.CompareTo(a.Client));
        w.WriteVarUint((ulong)sections.Count);
        foreach (var (client, structs, firstOffset) in sections)
        {
            w.WriteVarUint((ulong)structs.Count);
            w.WriteVarUint(client);
            w.WriteVarUint((ulong)(structs[0].Clock + firstOffset));
            structs[0].Write(w, firstOffset);
            for (int i = 1; i < structs.Count; i++)
            {
                structs[i].Write(w, 0);
            }
        }
    }

    public static byte[] EncodeStateVector(IEnumerable<KeyValuePair<long, int>> sv)
    {
        using var w = new ByteWriter(64);
        var entries = sv.Where(static kv => kv.Value > 0).OrderByDescending(static kv => kv.Key).ToList();
        w.WriteVarUint((ulong)entries.Count);
        foreach (var (client, clock) in entries)
        {
            w.WriteVarUint(client);
            w.WriteVarUint((ulong)clock);
        }
        return w.ToArray();
    }

    public static Dictionary<long, int> DecodeStateVector(byte[] sv)
    {
        ArgumentNullException.ThrowIfNull(sv);
        var r = new ByteReader(sv);
        ulong n = r.ReadVarUint();
        var result = new Dictionary<long, int>((int)Math.Min(n, (ulong)r.Remaining / 2));
        for (ulong i = 0; i < n; i++)
        {
            long client = (long)r.ReadVarUint();
            result[client] = r.ReadVarUintAsInt();
        }
        if (r.HasContent)
        {
            throw r.Error("Unexpected bytes after the state vector");
        }
        return result;
    }
}
