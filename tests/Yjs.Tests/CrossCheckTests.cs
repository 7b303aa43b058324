using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace CollabAkka.Yjs.Tests;

/// <summary>
/// Acceptance 2: real yjs peers (Node) and our documents make random edits on all shared types and
/// sync randomly (full diffs, single forwarded updates out of order, duplicates). After every full
/// sync of a pair both sides must have equal content and equal state vectors. Seeded: set
/// YJS_CROSSCHECK_SEED to replay a run.
/// </summary>
public sealed class CrossCheckTests
{
    private static readonly (string Name, string Type)[] Roots = [("text", "Text"), ("map", "Map"), ("array", "Array"), ("xml", "XmlFragment")];
    private readonly ITestOutputHelper _output;

    public CrossCheckTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void RandomEditsAndPartialSyncsConvergeWithRealYjs()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("YJS_CROSSCHECK_SEED"), out var s) ? s : 4242;
        _output.WriteLine($"cross-check seed {seed} (set YJS_CROSSCHECK_SEED to replay)");
        Console.WriteLine($"Yjs cross-check seed: {seed}");
        var sw = Stopwatch.StartNew();
        int syncs = 0, edits = 0;
        for (int round = 0; round < 10; round++)
        {
            var rng = new Random(seed * 31 + round);
            using var node = new NodePeer();
            var peers = new List<IPeer>
            {
                new CsPeer(new YDoc(clientId: 1000 + round * 10)),
                new CsPeer(new YDoc(clientId: 2_000_000_000L + round)),
                new JsPeer(node, 1, 1500 + round * 10),
                new JsPeer(node, 2, 3_000_000_000L + round),
            };
            for (int step = 0; step < 400; step++)
            {
                int roll = rng.Next(100);
                var a = peers[rng.Next(peers.Count)];
                if (roll < 60)
                {
                    a.Edit(rng);
                    edits++;
                }
                else if (roll < 75)
                {
                    var b = peers[rng.Next(peers.Count)];
                    if (a != b)
                    {
                        a.ForwardRandomUpdate(rng, b);
                    }
                }
                else
                {
                    var b = peers[rng.Next(peers.Count)];
                    if (a == b)
                    {
                        continue;
                    }
                    b.Apply(a.Diff(b.StateVector()));
                    a.Apply(b.Diff(a.StateVector()));
                    syncs++;
                    AssertSame(a, b, $"seed {seed} round {round} step {step}");
                }
            }
            for (int pass = 0; pass < 2; pass++)
            {
                for (int i = 0; i < peers.Count; i++)
                {
                    var a = peers[i];
                    var b = peers[(i + 1) % peers.Count];
                    b.Apply(a.Diff(b.StateVector()));
                }
            }
            for (int i = 1; i < peers.Count; i++)
            {
                AssertSame(peers[0], peers[i], $"seed {seed} round {round} final");
            }
        }
        _output.WriteLine($"{edits} edit transactions, {syncs} pair syncs in {sw.Elapsed.TotalSeconds:F1}s");
    }

    private static void AssertSame(IPeer a, IPeer b, string where)
    {
        var sa = YUpdate.DecodeStateVector(a.StateVector());
        var sb = YUpdate.DecodeStateVector(b.StateVector());
        Assert.True(sa.Count == sb.Count && sa.All(kv => sb.TryGetValue(kv.Key, out var v) && v == kv.Value),
            $"{where}: state vectors differ: {a} {string.Join(",", sa)} vs {b} {string.Join(",", sb)}");
        var ca = VectorSupport.Normalize(a.Content());
        var cb = VectorSupport.Normalize(b.Content());
        Assert.True(VectorSupport.DeepEquals(ca, cb), $"{where}: content differs ({a} vs {b}): {VectorSupport.FirstDifference(ca, cb)}");
    }

    private interface IPeer
    {
        void Edit(Random rng);

        byte[] StateVector();

        byte[] Diff(byte[] sv);

        void Apply(byte[] update);

        JsonNode Content();

        void ForwardRandomUpdate(Random rng, IPeer target);
    }

    private static readonly string[] Words = ["a", "hello ", "wörld", "😀", "👩‍👩‍👧", "日本語", "שלום", "e\u0301", "\n", "x\u200By", "🇯🇵", "tab\t"];
    private static readonly string[] Keys = ["k1", "k2", "title", "", "ключ", "n"];

    private static string RandomText(Random rng) => string.Concat(Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => Words[rng.Next(Words.Length)]));

    private static JsonObject? RandomAttrs(Random rng) => rng.Next(6) switch
    {
        0 => new JsonObject { ["bold"] = true },
        1 => new JsonObject { ["italic"] = true },
        2 => new JsonObject { ["bold"] = null },
        3 => new JsonObject { ["link"] = new JsonObject { ["href"] = "https://e.x/" + rng.Next(3) } },
        4 => new JsonObject { ["color"] = rng.Next(2) == 0 ? "#f00" : "#0f0", ["bold"] = true },
        _ => null,
    };

    private static JsonNode? RandomValue(Random rng) => rng.Next(9) switch
    {
        0 => rng.Next(-1000, 1000),
        1 => rng.NextDouble() * 1e6,
        2 => 1L << (31 + rng.Next(20)),
        3 => RandomText(rng),
        4 => rng.Next(2) == 0,
        5 => null,
        6 => new JsonObject { ["a"] = new JsonArray(1, "x", null), ["b"] = new JsonObject { ["c"] = 1.5 } },
        7 => new JsonObject { ["$binary"] = Convert.ToBase64String(new byte[] { 1, 2, (byte)rng.Next(256) }) },
        _ => new JsonArray(rng.Next(10), "y"),
    };

    private static object? ToValue(JsonNode? n) => n switch
    {
        null => null,
        JsonObject o when o["$binary"] is JsonNode b => Convert.FromBase64String(b.GetValue<string>()),
        JsonObject o => o.ToDictionary(kv => kv.Key, kv => ToValue(kv.Value)),
        JsonArray a => a.Select(ToValue).ToList(),
        JsonValue v when v.TryGetValue<bool>(out var bo) => bo,
        JsonValue v when v.TryGetValue<string>(out var st) => st,
        JsonValue v => double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture),
    };

    private static Dictionary<string, object?>? AttrsToDict(JsonObject? attrs) => attrs?.ToDictionary(kv => kv.Key, kv => ToValue(kv.Value));

    /// <summary>An edit described as JSON: the Node peer executes it, our peer interprets it the same way.</summary>
    private static JsonObject RandomEdit(Random rng, bool node)
    {
        int kinds = node ? 14 : 10;
        double target = rng.NextDouble(), pos = rng.NextDouble();
        switch (rng.Next(kinds))
        {
            case 0:
            case 1: return new JsonObject { ["op"] = "textInsert", ["target"] = target, ["pos"] = pos, ["text"] = RandomText(rng), ["attrs"] = rng.Next(3) == 0 ? RandomAttrs(rng) : null };
            case 2: return new JsonObject { ["op"] = "textDelete", ["target"] = target, ["pos"] = pos, ["len"] = 1 + rng.Next(6) };
            case 3: return new JsonObject { ["op"] = "textFormat", ["target"] = target, ["pos"] = pos, ["len"] = 1 + rng.Next(8), ["attrs"] = RandomAttrs(rng) ?? new JsonObject { ["bold"] = true } };
            case 4: return new JsonObject { ["op"] = "textEmbed", ["target"] = target, ["pos"] = pos, ["embed"] = new JsonObject { ["image"] = "i" + rng.Next(5) } };
            case 5:
                {
                    string? nested = rng.Next(5) == 0 ? new[] { "Map", "Array", "Text" }[rng.Next(3)] : null;
                    return new JsonObject { ["op"] = "mapSet", ["target"] = target, ["key"] = Keys[rng.Next(Keys.Length)], ["value"] = nested == null ? RandomValue(rng) : null, ["nested"] = nested };
                }
            case 6: return new JsonObject { ["op"] = "mapDelete", ["target"] = target, ["key"] = Keys[rng.Next(Keys.Length)] };
            case 7:
                {
                    string? nested = rng.Next(5) == 0 ? new[] { "Map", "Array", "Text" }[rng.Next(3)] : null;
                    var values = new JsonArray(Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => RandomValue(rng)).ToArray());
                    return new JsonObject { ["op"] = "arrayInsert", ["target"] = target, ["pos"] = pos, ["values"] = values, ["nested"] = nested };
                }
            case 8: return new JsonObject { ["op"] = "arrayDelete", ["target"] = target, ["pos"] = pos, ["len"] = 1 + rng.Next(3) };
            case 9: return new JsonObject { ["op"] = "textInsert", ["kind"] = "XmlText", ["target"] = target, ["pos"] = pos, ["text"] = RandomText(rng), ["attrs"] = RandomAttrs(rng) };
            case 10:
            case 11: return new JsonObject { ["op"] = "xmlInsert", ["target"] = target, ["pos"] = pos, ["name"] = rng.Next(3) == 0 ? null : new[] { "paragraph", "heading", "listitem" }[rng.Next(3)], ["attrs"] = new JsonObject { ["level"] = rng.Next(3).ToString(System.Globalization.CultureInfo.InvariantCulture) }, ["text"] = RandomText(rng) };
            case 12: return new JsonObject { ["op"] = "xmlAttr", ["target"] = target, ["key"] = "data-" + rng.Next(3), ["value"] = rng.Next(4) == 0 ? null : "v" + rng.Next(9) };
            default: return new JsonObject { ["op"] = "xmlDelete", ["target"] = target, ["pos"] = pos, ["len"] = 1 };
        }
    }

    private sealed class JsPeer : IPeer
    {
        private readonly NodePeer _node;
        private readonly int _id;

        public JsPeer(NodePeer node, int id, long clientId)
        {
            _node = node;
            _id = id;
            _node.Call(new JsonObject { ["cmd"] = "create", ["doc"] = id, ["clientId"] = clientId });
        }

        public void Edit(Random rng)
        {
            var edits = new JsonArray(Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => (JsonNode)RandomEdit(rng, node: true)).ToArray());
            _node.Call(new JsonObject { ["cmd"] = "edit", ["doc"] = _id, ["edits"] = edits });
        }

        public byte[] StateVector() => Convert.FromBase64String(_node.Call(new JsonObject { ["cmd"] = "sv", ["doc"] = _id })["sv"]!.GetValue<string>());

        public byte[] Diff(byte[] sv) => Convert.FromBase64String(_node.Call(new JsonObject { ["cmd"] = "diff", ["doc"] = _id, ["sv"] = NodePeer.B64(sv) })["update"]!.GetValue<string>());

        public void Apply(byte[] update) => _node.Call(new JsonObject { ["cmd"] = "apply", ["doc"] = _id, ["update"] = NodePeer.B64(update) });

        public JsonNode Content()
        {
            var roots = new JsonArray(Roots.Select(r => (JsonNode)new JsonArray(r.Name, r.Type)).ToArray());
            return _node.Call(new JsonObject { ["cmd"] = "content", ["doc"] = _id, ["roots"] = roots })["content"]!.DeepClone();
        }

        public void ForwardRandomUpdate(Random rng, IPeer target)
        {
            var reply = _node.Call(new JsonObject { ["cmd"] = "updates", ["doc"] = _id, ["index"] = rng.Next(1000) });
            if (reply["update"] is JsonNode u)
            {
                target.Apply(Convert.FromBase64String(u.GetValue<string>()));
            }
        }

        public override string ToString() => "yjs#" + _id;
    }

    private sealed class CsPeer : IPeer
    {
        private readonly YDoc _doc;
        private readonly List<byte[]> _updates = new();

        public CsPeer(YDoc doc)
        {
            _doc = doc;
            doc.UpdateProduced += (_, e) =>
            {
                if (e.Local)
                {
                    _updates.Add(e.Update);
                }
            };
            doc.GetText("text");
            doc.GetMap("map");
            doc.GetArray("array");
            doc.GetXmlFragment("xml");
        }

        public void Edit(Random rng)
        {
            int n = 1 + rng.Next(3);
            var edits = Enumerable.Range(0, n).Select(_ => RandomEdit(rng, node: false)).ToList();
            _doc.Transact(() =>
            {
                foreach (var e in edits)
                {
                    Execute(e);
                }
            });
        }

        private List<T> TypesOf<T>(Func<YType, bool> match)
            where T : YType
        {
            var found = new List<T>();
            void Visit(YType t)
            {
                if (match(t))
                {
                    found.Add((T)t);
                }
                IEnumerable<object?> children = t switch
                {
                    YMap m => m.Keys.Order(StringComparer.Ordinal).Select(m.Get),
                    YArray a => a.ToList(),
                    YXmlFragment f => f.Children,
                    YText x => x.ToDelta().Select(d => d.Insert),
                    _ => [],
                };
                foreach (var c in children)
                {
                    if (c is YType ct)
                    {
                        Visit(ct);
                    }
                }
            }
            Visit(_doc.GetText("text"));
            Visit(_doc.GetMap("map"));
            Visit(_doc.GetArray("array"));
            Visit(_doc.GetXmlFragment("xml"));
            return found;
        }

        private static T? Pick<T>(List<T> list, double f)
            where T : class => list.Count == 0 ? null : list[Math.Min(list.Count - 1, (int)Math.Floor(f * list.Count))];

        private static int At(int len, double f) => Math.Min(len, (int)Math.Floor(f * (len + 1)));

        // Same snapping to code point boundaries as peer.mjs (see the comment there).
        private static string Flat(YText t) => string.Concat(t.ToDelta().Select(d => d.Insert as string ?? "\0"));

        private static int Snap(string s, int i) => i > 0 && i < s.Length && char.IsHighSurrogate(s[i - 1]) && char.IsLowSurrogate(s[i]) ? i + 1 : i;

        private static (int Index, int Length) Range(YText t, double pos, int len)
        {
            var s = Flat(t);
            int i = Snap(s, Math.Min(t.Length - 1, At(t.Length, pos)));
            int e = Snap(s, Math.Min(t.Length, i + len));
            return (i, e - i);
        }

        private static YType? MakeNested(string? kind) => kind switch
        {
            "Map" => new YMap(),
            "Array" => new YArray(),
            "Text" => new YText(),
            _ => null,
        };

        private void Execute(JsonObject e)
        {
            double target = e["target"]!.GetValue<double>();
            double pos = e["pos"]?.GetValue<double>() ?? 0;
            switch (e["op"]!.GetValue<string>())
            {
                case "textInsert":
                    {
                        bool xml = e["kind"]?.GetValue<string>() == "XmlText";
                        var t = Pick(TypesOf<YText>(x => xml ? x is YXmlText : x is YText and not YXmlText), target);
                        t?.Insert(Snap(Flat(t), At(t.Length, pos)), e["text"]!.GetValue<string>(), AttrsToDict(e["attrs"] as JsonObject));
                        break;
                    }
                case "textDelete":
                    {
                        var t = Pick(TypesOf<YText>(x => x is YText and not YXmlText), target);
                        if (t is { Length: > 0 } && Range(t, pos, e["len"]!.GetValue<int>()) is { Length: > 0 } r)
                        {
                            t.Delete(r.Index, r.Length);
                        }
                        break;
                    }
                case "textFormat":
                    {
                        var t = Pick(TypesOf<YText>(x => x is YText and not YXmlText), target);
                        if (t is { Length: > 0 } && Range(t, pos, e["len"]!.GetValue<int>()) is { Length: > 0 } r)
                        {
                            t.Format(r.Index, r.Length, AttrsToDict((JsonObject)e["attrs"]!)!);
                        }
                        break;
                    }
                case "textEmbed":
                    {
                        var t = Pick(TypesOf<YText>(x => x is YText and not YXmlText), target);
                        t?.InsertEmbed(Snap(Flat(t), At(t.Length, pos)), ToValue(e["embed"])!);
                        break;
                    }
                case "mapSet":
                    {
                        var m = Pick(TypesOf<YMap>(x => x is YMap and not YXmlHook), target);
                        m?.Set(e["key"]!.GetValue<string>(), e["nested"] is JsonNode k ? MakeNested(k.GetValue<string>()) : ToValue(e["value"]));
                        break;
                    }
                case "mapDelete":
                    Pick(TypesOf<YMap>(x => x is YMap and not YXmlHook), target)?.Delete(e["key"]!.GetValue<string>());
                    break;
                case "arrayInsert":
                    {
                        var a = Pick(TypesOf<YArray>(x => x is YArray), target);
                        if (a != null)
                        {
                            object?[] values = e["nested"] is JsonNode k ? [MakeNested(k.GetValue<string>())] : e["values"]!.AsArray().Select(ToValue).ToArray();
                            a.Insert(At(a.Length, pos), values);
                        }
                        break;
                    }
                case "arrayDelete":
                    {
                        var a = Pick(TypesOf<YArray>(x => x is YArray), target);
                        if (a is { Length: > 0 })
                        {
                            int i = Math.Min(a.Length - 1, At(a.Length, pos));
                            a.Delete(i, Math.Min(e["len"]!.GetValue<int>(), a.Length - i));
                        }
                        break;
                    }
                default:
                    throw new InvalidOperationException(e.ToJsonString());
            }
        }

        public byte[] StateVector() => _doc.EncodeStateVector();

        public byte[] Diff(byte[] sv) => _doc.EncodeStateAsUpdate(sv);

        public void Apply(byte[] update) => _doc.ApplyUpdate(update);

        public JsonNode Content() => JsonNode.Parse(VectorSupport.Content(_doc, Roots))!;

        public void ForwardRandomUpdate(Random rng, IPeer target)
        {
            if (_updates.Count > 0)
            {
                target.Apply(_updates[rng.Next(_updates.Count)]);
            }
        }

        public override string ToString() => "ours#" + _doc.ClientId;
    }
}
