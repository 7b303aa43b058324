using System.Text.Json;

namespace CollabAkka.Yjs.Tests;

/// <summary>Issue 12 item 1: nesting depth is bounded where updates are integrated.</summary>
public sealed class DepthLimitTests
{
    /// <summary>Nests <paramref name="levels"/> maps under <paramref name="start"/> (local edits are not limited).</summary>
    private static YMap Nest(YDoc doc, YMap start, int levels)
    {
        var current = start;
        for (int i = 0; i < levels; i++)
        {
            var child = new YMap();
            doc.Transact(() => current.Set("m", child));
            current = child;
        }
        return current;
    }

    private static YDoc Source() => new(clientId: 1, maxDepth: YLimits.MaxSupportedDepth);

    [Fact]
    public void UpdateNestingDeeperThanTheLimitIsRefusedAndTheDocumentIsUnchanged()
    {
        var source = Source();
        var root = source.GetMap("root");
        source.Transact(() => root.Set("title", "kept"));
        var target = new YDoc(clientId: 2, maxDepth: 10);
        target.ApplyUpdate(source.EncodeStateAsUpdate());
        var before = target.EncodeStateAsUpdate();

        Nest(source, root, 10); // root (1) + 10 = 11 levels
        var ex = Assert.Throws<YjsDecodeException>(() => target.ApplyUpdate(source.EncodeStateAsUpdate(target.EncodeStateVector())));
        Assert.Contains("at most 10", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, target.EncodeStateAsUpdate());
        Assert.Equal("""{"root":{"title":"kept"}}""", target.ToJson());
    }

    [Fact]
    public void NestingAtTheLimitIsAccepted()
    {
        var source = Source();
        Nest(source, source.GetMap("root"), 9); // 10 levels
        var target = new YDoc(clientId: 2, maxDepth: 10);
        target.ApplyUpdate(source.EncodeStateAsUpdate());
        Assert.Equal(source.ToJson(), target.ToJson());
        Assert.Equal(11, target.ToJsonElement().GetRawText().Count(c => c == '{')); // the document object + 10 maps
    }

    [Fact]
    public void DepthBuiltUpOverManyUpdatesIsRefusedWhenItCrossesTheLimit()
    {
        var source = Source();
        var target = new YDoc(clientId: 2, maxDepth: 12);
        var deepest = source.GetMap("root");
        var refusedAt = -1;
        for (int step = 0; step < 20; step++)
        {
            deepest = Nest(source, deepest, 1);
            var update = source.EncodeStateAsUpdate(target.EncodeStateVector());
            try
            {
                target.ApplyUpdate(update);
            }
            catch (YjsDecodeException)
            {
                refusedAt = step;
                break;
            }
        }
        Assert.Equal(11, refusedAt); // root + 11 maps = 12 accepted; the 12th map would be level 13
    }

    [Fact]
    public void ValuesCountTowardsTheSameLimit()
    {
        var source = Source();
        var root = source.GetMap("root");
        object? value = "leaf";
        for (int i = 0; i < 10; i++)
        {
            value = new Dictionary<string, object?> { ["v"] = value };
        }
        source.Transact(() => root.Set("deep", value)); // 1 + 10 levels
        var target = new YDoc(clientId: 2, maxDepth: 10);
        Assert.Throws<YjsDecodeException>(() => target.ApplyUpdate(source.EncodeStateAsUpdate()));
        Assert.Equal("{}", target.ToJson());
        var roomy = new YDoc(clientId: 3, maxDepth: 11);
        roomy.ApplyUpdate(source.EncodeStateAsUpdate());
        Assert.Equal(source.ToJson(), roomy.ToJson());
    }

    [Fact]
    public void ThirtyThousandNestedMapsAreRefusedWithoutOverflowingTheStack()
    {
        var source = Source();
        var root = source.GetMap("root");
        // Built by hand-written structs would be the attacker's way; our own local API makes the same update.
        var current = root;
        source.Transact(() =>
        {
            for (int i = 0; i < 30_000; i++)
            {
                var child = new YMap();
                current.Set("m", child);
                current = child;
            }
        });
        var update = source.EncodeStateAsUpdate();
        var target = new YDoc(clientId: 2);
        Assert.Throws<YjsDecodeException>(() => target.ApplyUpdate(update));
        Assert.Equal("{}", target.ToJson());
    }

    [Fact]
    public void OutOfOrderUpdatesAreStillCheckedWhenTheyBecomeIntegrable()
    {
        var source = Source();
        var target = new YDoc(clientId: 2, maxDepth: 5);
        var root = source.GetMap("root");
        var first = new List<byte[]>();
        source.UpdateProduced += (_, e) => first.Add(e.Update);
        Nest(source, root, 6); // 7 levels in 6 updates
        // Deliver the later updates first: they wait as pending structs, then the first one unblocks them all.
        for (int i = first.Count - 1; i >= 1; i--)
        {
            target.ApplyUpdate(first[i]);
        }
        Assert.True(target.HasPendingStructs);
        Assert.Throws<YjsDecodeException>(() => target.ApplyUpdate(first[0]));
        Assert.Equal("{}", target.ToJson());
    }

    [Fact]
    public void JsonElementUsesTheSameLimit()
    {
        var source = Source();
        Nest(source, source.GetMap("root"), 59); // 60 levels: JsonDocument's default of 64 would still do, 100 would not
        Nest(source, source.GetMap("other"), 99);
        var target = new YDoc(clientId: 2, maxDepth: 100);
        target.ApplyUpdate(source.EncodeStateAsUpdate());
        var element = target.ToJsonElement();
        Assert.Equal(JsonValueKind.Object, element.GetProperty("other").ValueKind);
    }
}
