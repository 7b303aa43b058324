using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace CollabAkka.Yjs.Encoding;

/// <summary>The JavaScript <c>undefined</c> value, as it can occur in Yjs content.</summary>
internal sealed class JsUndefined
{
    public static readonly JsUndefined Instance = new();

    private JsUndefined() { }

    public override string ToString() => "undefined";
}

/// <summary>
/// The value model shared by the lib0 <c>any</c> encoding and JSON content: <c>null</c>,
/// <see cref="JsUndefined"/>, <see cref="double"/> (every JS number), <see cref="BigInteger"/>,
/// <see cref="bool"/>, <see cref="string"/>, <c>byte[]</c>, <c>Dictionary&lt;string, object?&gt;</c>
/// and <c>List&lt;object?&gt;</c>. Values from callers are normalised into it.
/// </summary>
internal static class JsValues
{
    /// <summary>Reads one lib0 <c>any</c> value whose containers nest at most the reader's <see cref="ByteReader.MaxDepth"/> deep.</summary>
    public static object? ReadAny(ByteReader r, int depth = 0)
    {
        byte tag = r.ReadByte();
        if (tag is 117 or 118 && depth >= r.MaxDepth)
        {
            throw r.Error($"Value nested deeper than {r.MaxDepth} levels");
        }
        switch (tag)
        {
            case 127: return JsUndefined.Instance;
            case 126: return null;
            case 125: return r.ReadVarInt();
            case 124: return (double)r.ReadFloat32();
            case 123: return r.ReadFloat64();
            case 122: return r.ReadBigInt64();
            case 121: return false;
            case 120: return true;
            case 119: return r.ReadVarString();
            case 118:
                {
                    ulong len = r.ReadVarUint();
                    // every entry takes at least two bytes: bound the allocation by what is left
                    var obj = new Dictionary<string, object?>((int)Math.Min(len, (ulong)r.Remaining / 2), StringComparer.Ordinal);
                    for (ulong i = 0; i < len; i++)
                    {
                        string key = r.ReadVarString();
                        obj[key] = ReadAny(r, depth + 1);
                    }
                    return obj;
                }
            case 117:
                {
                    ulong len = r.ReadVarUint();
                    var list = new List<object?>((int)Math.Min(len, (ulong)r.Remaining));
                    for (ulong i = 0; i < len; i++)
                    {
                        list.Add(ReadAny(r, depth + 1));
                    }
                    return list;
                }
            case 116: return r.ReadVarBytes();
            default: throw r.Error($"Unknown value tag {tag}");
        }
    }

    public static void WriteAny(ByteWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteByte(126); break;
            case JsUndefined: w.WriteByte(127); break;
            case double d: WriteNumber(w, d); break;
            case bool b: w.WriteByte(b ? (byte)120 : (byte)121); break;
            case string s: w.WriteByte(119); w.WriteVarString(s); break;
            case byte[] bytes: w.WriteByte(116); w.WriteVarBytes(bytes); break;
            case BigInteger bi: w.WriteByte(122); w.WriteBigInt64(bi); break;
            case Dictionary<string, object?> obj:
                w.WriteByte(118);
                w.WriteVarUint((ulong)obj.Count);
                foreach (var kv in obj)
                {
                    w.WriteVarString(kv.Key);
                    WriteAny(w, kv.Value);
                }
                break;
            case List<object?> list:
                w.WriteByte(117);
                w.WriteVarUint((ulong)list.Count);
                foreach (var v in list)
                {
                    WriteAny(w, v);
                }
                break;
            default:
                WriteAny(w, Normalize(value));
                break;
        }
    }

    private static void WriteNumber(ByteWriter w, double d)
    {
        // Same choice as lib0 writeAny: small integers as var-int, then float32 if exact, else float64.
        if (Math.Abs(d) <= 0x7FFFFFFF && d == Math.Floor(d))
        {
            w.WriteByte(125);
            w.WriteVarInt((long)Math.Abs(d), d < 0 || double.IsNegative(d));
        }
        else if (!double.IsNaN(d) && (double)(float)d == d)
        {
            w.WriteByte(124);
            w.WriteFloat32((float)d);
        }
        else
        {
            w.WriteByte(123);
            w.WriteFloat64(d);
        }
    }

    /// <summary>Converts a caller's value to the internal value model.</summary>
    public static object? Normalize(object? value) => value switch
    {
        null => null,
        JsUndefined or double or bool or string or byte[] or BigInteger => value,
        int i => (double)i,
        long l => (double)l,
        float f => (double)f,
        decimal m => (double)m,
        short s => (double)s,
        uint u => (double)u,
        ulong ul => (double)ul,
        byte b => (double)b,
        sbyte sb => (double)sb,
        ushort us => (double)us,
        char c => c.ToString(),
        ReadOnlyMemory<byte> rom => rom.ToArray(),
        Memory<byte> mem => mem.ToArray(),
        JsonElement je => FromJsonElement(je, 0),
        Dictionary<string, object?> d when IsNormalizedDict(d) => d,
        IEnumerable<KeyValuePair<string, object?>> dict => NormalizeDict(dict),
        IDictionary dict => NormalizeDict(dict),
        IEnumerable list => NormalizeList(list),
        _ => throw new ArgumentException($"Values of type {value.GetType().Name} cannot be stored in a Yjs document.", nameof(value)),
    };

    private static bool IsNormalizedDict(Dictionary<string, object?> d)
    {
        foreach (var v in d.Values)
        {
            if (!IsNormalized(v))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsNormalized(object? v) => v switch
    {
        null or JsUndefined or double or bool or string or byte[] or BigInteger => true,
        Dictionary<string, object?> d => IsNormalizedDict(d),
        List<object?> l => l.TrueForAll(IsNormalized),
        _ => false,
    };

    private static Dictionary<string, object?> NormalizeDict(IEnumerable<KeyValuePair<string, object?>> dict)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in dict)
        {
            result[kv.Key] = Normalize(kv.Value);
        }
        return result;
    }

    private static Dictionary<string, object?> NormalizeDict(IDictionary dict)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (DictionaryEntry kv in dict)
        {
            result[Convert.ToString(kv.Key, CultureInfo.InvariantCulture) ?? string.Empty] = Normalize(kv.Value);
        }
        return result;
    }

    private static List<object?> NormalizeList(IEnumerable list)
    {
        var result = new List<object?>();
        foreach (var v in list)
        {
            result.Add(Normalize(v));
        }
        return result;
    }

    /// <summary>Container depth of a value: 0 for primitives, 1 + the deepest child for objects and arrays.</summary>
    public static int ValueDepth(object? value) => value switch
    {
        Dictionary<string, object?> obj => 1 + (obj.Count == 0 ? 0 : obj.Values.Max(ValueDepth)),
        List<object?> list => 1 + (list.Count == 0 ? 0 : list.Max(ValueDepth)),
        _ => 0,
    };

    // ---------------------------------------------------------------- JSON (JSON.parse / JSON.stringify)

    public static object? ParseJson(string json, ByteReader? context)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = context?.MaxDepth ?? YLimits.MaxSupportedDepth });
            return FromJsonElement(doc.RootElement, 0);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            string where = context is null ? string.Empty : $" (at byte {context.Position})";
            throw new YjsDecodeException("Invalid JSON in update" + where, e) { Offset = context?.Position ?? -1 };
        }
    }

    private static object? FromJsonElement(JsonElement e, int depth)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.Number:
                return e.TryGetDouble(out var d) ? d : double.Parse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
            case JsonValueKind.Array:
                {
                    var list = new List<object?>(e.GetArrayLength());
                    foreach (var x in e.EnumerateArray())
                    {
                        list.Add(FromJsonElement(x, depth + 1));
                    }
                    return list;
                }
            case JsonValueKind.Object:
                {
                    var obj = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var p in e.EnumerateObject())
                    {
                        obj[p.Name] = FromJsonElement(p.Value, depth + 1);
                    }
                    return obj;
                }
            default:
                throw new FormatException("Unsupported JSON value");
        }
    }

    /// <summary>JSON.stringify semantics (used to write JSON, Embed and Format content).</summary>
    public static string Stringify(object? value)
    {
        var sb = new StringBuilder();
        WriteJson(sb, value, JsonFlavor.JavaScript);
        return sb.ToString();
    }

    internal enum JsonFlavor
    {
        /// <summary>JSON.stringify: binary as an index-keyed object.</summary>
        JavaScript,

        /// <summary>Content format of the vectors: binary as <c>{"$binary": base64}</c>, undefined as null.</summary>
        Content,
    }

    public static void WriteJson(StringBuilder sb, object? value, JsonFlavor flavor)
    {
        switch (value)
        {
            case null:
            case JsUndefined:
                sb.Append("null");
                break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case double d: WriteJsonNumber(sb, d); break;
            case BigInteger bi: sb.Append(bi.ToString(CultureInfo.InvariantCulture)); break;
            case string s: WriteJsonString(sb, s); break;
            case byte[] bytes:
                if (flavor == JsonFlavor.Content)
                {
                    sb.Append("{\"$binary\":\"").Append(Convert.ToBase64String(bytes)).Append("\"}");
                }
                else
                {
                    sb.Append('{');
                    for (int i = 0; i < bytes.Length; i++)
                    {
                        if (i > 0)
                        {
                            sb.Append(',');
                        }
                        sb.Append('"').Append(i).Append("\":").Append(bytes[i]);
                    }
                    sb.Append('}');
                }
                break;
            case Dictionary<string, object?> obj:
                {
                    sb.Append('{');
                    bool first = true;
                    foreach (var kv in obj)
                    {
                        if (kv.Value is JsUndefined && flavor == JsonFlavor.JavaScript)
                        {
                            continue;
                        }
                        if (!first)
                        {
                            sb.Append(',');
                        }
                        first = false;
                        WriteJsonString(sb, kv.Key);
                        sb.Append(':');
                        WriteJson(sb, kv.Value, flavor);
                    }
                    sb.Append('}');
                    break;
                }
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }
                    WriteJson(sb, list[i], flavor);
                }
                sb.Append(']');
                break;
            default:
                WriteJson(sb, Normalize(value), flavor);
                break;
        }
    }

    public static void WriteJsonNumber(StringBuilder sb, double d)
    {
        if (double.IsNaN(d) || double.IsInfinity(d))
        {
            sb.Append("null");
        }
        else if (d == Math.Floor(d) && Math.Abs(d) < 9e15)
        {
            sb.Append(((long)d).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            sb.Append(d.ToString("R", CultureInfo.InvariantCulture));
        }
    }

    public static void WriteJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        int runStart = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            string? esc = null;
            if (c == '"')
            {
                esc = "\\\"";
            }
            else if (c == '\\')
            {
                esc = "\\\\";
            }
            else if (c < 0x20)
            {
                esc = c switch
                {
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    '\b' => "\\b",
                    '\f' => "\\f",
                    _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                };
            }
            else if (char.IsSurrogate(c))
            {
                bool paired = char.IsHighSurrogate(c) ? i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) : i > 0 && char.IsHighSurrogate(s[i - 1]);
                if (!paired)
                {
                    esc = "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture);
                }
            }
            if (esc != null)
            {
                sb.Append(s, runStart, i - runStart).Append(esc);
                runStart = i + 1;
            }
        }
        sb.Append(s, runStart, s.Length - runStart);
        sb.Append('"');
    }

    /// <summary>JS <c>===</c>: value equality for primitives, reference equality for objects.</summary>
    public static bool StrictEquals(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (double x, double y) => x == y,
        (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
        (bool x, bool y) => x == y,
        (BigInteger x, BigInteger y) => x == y,
        _ => ReferenceEquals(a, b),
    };

    /// <summary>YText's equalAttrs: <c>===</c>, or two objects whose entries are <c>===</c>.</summary>
    public static bool EqualAttrs(object? a, object? b)
    {
        if (StrictEquals(a, b))
        {
            return true;
        }
        if (a is Dictionary<string, object?> da && b is Dictionary<string, object?> db)
        {
            if (da.Count != db.Count)
            {
                return false;
            }
            foreach (var kv in da)
            {
                if (!db.TryGetValue(kv.Key, out var bv) || !StrictEquals(kv.Value, bv))
                {
                    return false;
                }
            }
            return true;
        }
        if (a is List<object?> la && b is List<object?> lb)
        {
            if (la.Count != lb.Count)
            {
                return false;
            }
            for (int i = 0; i < la.Count; i++)
            {
                if (!StrictEquals(la[i], lb[i]))
                {
                    return false;
                }
            }
            return true;
        }
        return false;
    }

    /// <summary>JS String(value) for the few places yjs concatenates values into XML strings.</summary>
    public static string JsToString(object? value) => value switch
    {
        null => "null",
        JsUndefined => "undefined",
        bool b => b ? "true" : "false",
        double d => JsNumberToString(d),
        string s => s,
        BigInteger bi => bi.ToString(CultureInfo.InvariantCulture),
        byte[] bytes => string.Join(",", bytes),
        List<object?> list => string.Join(",", list.Select(v => v is null or JsUndefined ? string.Empty : JsToString(v))),
        Dictionary<string, object?> => "[object Object]",
        _ => value.ToString() ?? string.Empty,
    };

    private static string JsNumberToString(double d)
    {
        if (double.IsNaN(d))
        {
            return "NaN";
        }
        if (double.IsInfinity(d))
        {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        var sb = new StringBuilder();
        WriteJsonNumber(sb, d);
        return sb.ToString();
    }
}
