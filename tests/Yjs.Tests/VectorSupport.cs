using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CollabAkka.Yjs.Tests;

/// <summary>Reads vectors and produces/compares content in the vectors' format.</summary>
internal static class VectorSupport
{
    public static IEnumerable<string> VectorNames() => Directory.GetFiles(TestEnvironment.VectorsDir, "vec-*.json")
        .Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    public static JsonObject Load(string name) => JsonNode.Parse(File.ReadAllText(Path.Combine(TestEnvironment.VectorsDir, name + ".json")))!.AsObject();

    public static List<byte[]> Updates(JsonObject vec) => vec["updates"]!.AsArray().Select(n => Convert.FromBase64String(n!.GetValue<string>())).ToList();

    public static List<(string Name, string Type)> Roots(JsonNode expected) => expected.AsObject().Select(kv => (kv.Key, kv.Value!["type"]!.GetValue<string>())).ToList();

    /// <summary>Content of the listed roots, in the vectors' format, as JSON text.</summary>
    public static string Content(YDoc doc, IEnumerable<(string Name, string Type)> roots)
    {
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var (name, type) in roots)
        {
            if (!first)
            {
                sb.Append(',');
            }
            first = false;
            sb.Append(JsonSerializer.Serialize(name)).Append(":{\"type\":").Append(JsonSerializer.Serialize(type)).Append(",\"json\":");
            switch (type)
            {
                case "Text":
                    var text = doc.GetText(name);
                    sb.Append(text.ToJson()).Append(",\"delta\":").Append(text.ToDeltaJson());
                    break;
                case "Map": sb.Append(doc.GetMap(name).ToJson()); break;
                case "Array": sb.Append(doc.GetArray(name).ToJson()); break;
                case "XmlFragment": sb.Append(doc.GetXmlFragment(name).ToJson()); break;
                default: throw new InvalidOperationException(type);
            }
            sb.Append('}');
        }
        return sb.Append('}').ToString();
    }

    public static JsonNode? Normalize(JsonNode? content)
    {
        if (content is not JsonObject obj)
        {
            return content;
        }
        var result = new JsonObject();
        foreach (var (name, root) in obj)
        {
            var r = root!.DeepClone().AsObject();
            if (r["type"]?.GetValue<string>() == "Text" && r["delta"] is JsonArray delta)
            {
                r["delta"] = NormalizeDelta(delta);
            }
            result[name] = r;
        }
        return result;
    }

    private static JsonArray NormalizeDelta(JsonArray delta)
    {
        var result = new JsonArray();
        JsonObject? last = null;
        foreach (var op in delta)
        {
            var o = op!.AsObject();
            var attrs = o["attributes"] is JsonObject a && a.Count > 0 ? a : null;
            var insert = o["insert"];
            if (insert is JsonValue v && v.TryGetValue<string>(out var s))
            {
                if (s.Length == 0)
                {
                    continue;
                }
                if (last != null && last["insert"] is JsonValue lv && lv.TryGetValue<string>(out var ls) && DeepEquals(last["attributes"], attrs))
                {
                    last["insert"] = ls + s;
                    continue;
                }
            }
            var n = new JsonObject { ["insert"] = insert?.DeepClone() };
            if (attrs != null)
            {
                n["attributes"] = attrs.DeepClone();
            }
            result.Add(n);
            last = n;
        }
        return result;
    }

    public static bool DeepEquals(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null)
        {
            return IsNull(a) && IsNull(b);
        }
        switch (a)
        {
            case JsonObject oa when b is JsonObject ob:
                var ka = oa.Select(kv => kv.Key).ToHashSet();
                var kb = ob.Select(kv => kv.Key).ToHashSet();
                return ka.SetEquals(kb) && ka.All(k => DeepEquals(oa[k], ob[k]));
            case JsonArray aa when b is JsonArray ab:
                return aa.Count == ab.Count && aa.Zip(ab).All(p => DeepEquals(p.First, p.Second));
            case JsonValue va when b is JsonValue vb:
                var ea = JsonDocument.Parse(va.ToJsonString()).RootElement;
                var eb = JsonDocument.Parse(vb.ToJsonString()).RootElement;
                if (ea.ValueKind == JsonValueKind.Number && eb.ValueKind == JsonValueKind.Number)
                {
                    return ea.GetDouble() == eb.GetDouble();
                }
                return ea.ValueKind == eb.ValueKind && ea.GetRawText() == eb.GetRawText()
                    || (ea.ValueKind == JsonValueKind.String && eb.ValueKind == JsonValueKind.String && ea.GetString() == eb.GetString());
            default:
                return false;
        }
    }

    private static bool IsNull(JsonNode? n) => n is null || (n is JsonValue v && v.ToJsonString() == "null");

    public static string FirstDifference(JsonNode? expected, JsonNode? actual, string path = "$")
    {
        if (DeepEquals(expected, actual))
        {
            return string.Empty;
        }
        if (expected is JsonObject oe && actual is JsonObject oa)
        {
            foreach (var k in oe.Select(kv => kv.Key).Union(oa.Select(kv => kv.Key)))
            {
                if (!DeepEquals(oe[k], oa[k]))
                {
                    return FirstDifference(oe[k], oa[k], path + "." + k);
                }
            }
        }
        if (expected is JsonArray ae && actual is JsonArray aa && ae.Count == aa.Count)
        {
            for (int i = 0; i < ae.Count; i++)
            {
                if (!DeepEquals(ae[i], aa[i]))
                {
                    return FirstDifference(ae[i], aa[i], $"{path}[{i}]");
                }
            }
        }
        if (expected is JsonValue ve && actual is JsonValue va2 && ve.TryGetValue<string>(out var se) && va2.TryGetValue<string>(out var sa))
        {
            int i = 0;
            while (i < se.Length && i < sa.Length && se[i] == sa[i])
            {
                i++;
            }
            int from = Math.Max(0, i - 20);
            return $"{path}: strings differ at {i} (lengths {se.Length}/{sa.Length}): expected ...{Escape(se[from..Math.Min(se.Length, i + 40)])}, got ...{Escape(sa[from..Math.Min(sa.Length, i + 40)])}";
        }
        static string Escape(string x) => System.Text.Json.JsonSerializer.Serialize(x);
        static string Short(JsonNode? n)
        {
            var s = n?.ToJsonString() ?? "null";
            return s.Length > 300 ? s[..300] + "..." : s;
        }
        return $"{path}: expected {Short(expected)}, got {Short(actual)}";
    }
}
