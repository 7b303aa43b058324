using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace CollabAkka.Yjs.Tests;

public sealed class VectorTests
{
    private readonly ITestOutputHelper _output;

    public VectorTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Names() => VectorSupport.VectorNames().Select(n => new object[] { n });

    [Fact]
    public void AllTwoHundredVectorsArePresent() => Assert.Equal(200, VectorSupport.VectorNames().Count());

    [Theory]
    [MemberData(nameof(Names))]
    public void ApplyingTheUpdatesYieldsTheExpectedContent(string name)
    {
        var vec = VectorSupport.Load(name);
        var roots = VectorSupport.Roots(vec["expected"]!);
        var doc = new YDoc();
        foreach (var u in VectorSupport.Updates(vec))
        {
            doc.ApplyUpdate(u);
        }
        AssertContent(vec["expected"]!, VectorSupport.Content(doc, roots));

        var pending = vec["pending"]!;
        Assert.Equal(pending["structs"]!.GetValue<bool>(), doc.HasPendingStructs);
        Assert.Equal(pending["deleteSet"]!.GetValue<bool>(), doc.HasPendingDeletes);

        // the document re-encoded and loaded again has the same content
        var again = new YDoc();
        again.ApplyUpdate(doc.EncodeStateAsUpdate());
        AssertContent(vec["expected"]!, VectorSupport.Content(again, roots));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StateVectorsMatchTheReference(string name)
    {
        var vec = VectorSupport.Load(name);
        var updates = VectorSupport.Updates(vec);
        var refSvs = vec["updateStateVectors"]!.AsArray().Select(n => Convert.FromBase64String(n!.GetValue<string>())).ToList();
        for (int i = 0; i < updates.Count; i++)
        {
            Assert.Equal(YUpdate.DecodeStateVector(refSvs[i]), YUpdate.DecodeStateVector(YUpdate.EncodeStateVectorFromUpdate(updates[i])));
        }
        var merged = YUpdate.Merge(updates);
        var expected = YUpdate.DecodeStateVector(Convert.FromBase64String(vec["stateVector"]!.GetValue<string>()));
        Assert.Equal(expected, YUpdate.DecodeStateVector(YUpdate.EncodeStateVectorFromUpdate(merged)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DiffsAppliedToTheBaseYieldTheExpectedContent(string name)
    {
        var vec = VectorSupport.Load(name);
        var roots = VectorSupport.Roots(vec["expected"]!);
        var merged = YUpdate.Merge(VectorSupport.Updates(vec));
        foreach (var d in vec["diffs"]!.AsArray())
        {
            var baseUpdate = Convert.FromBase64String(d!["base"]!.GetValue<string>());
            var sv = Convert.FromBase64String(d["sv"]!.GetValue<string>());
            var peer = new YDoc();
            peer.ApplyUpdate(baseUpdate);
            peer.ApplyUpdate(YUpdate.Diff(merged, sv));
            AssertContent(d["expectedAfterDiff"]!, VectorSupport.Content(peer, roots));
        }
    }

    private void AssertContent(JsonNode expected, string actualJson)
    {
        var e = VectorSupport.Normalize(expected);
        var a = VectorSupport.Normalize(JsonNode.Parse(actualJson));
        if (!VectorSupport.DeepEquals(e, a))
        {
            _output.WriteLine(actualJson);
            Assert.Fail(VectorSupport.FirstDifference(e, a));
        }
    }
}
