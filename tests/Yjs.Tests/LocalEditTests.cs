using System.Text;

namespace CollabAkka.Yjs.Tests;

public sealed class LocalEditTests
{
    [Fact]
    public void LocalEditsInLongTextsStayCorrectWhenRemoteChangesArriveBetweenThem()
    {
        // Regression: search markers must be dropped when remote inserts or deletes shift indexes.
        var rng = new Random(7);
        var a = new YDoc(clientId: 1);
        var b = new YDoc(clientId: 2);
        var model = new StringBuilder();
        var ta = a.GetText("text");
        var tb = b.GetText("text");
        for (int step = 0; step < 3000; step++)
        {
            bool onA = rng.Next(2) == 0;
            var text = onA ? ta : tb;
            if (text.Length > 0 && rng.Next(3) == 0)
            {
                int i = rng.Next(text.Length);
                int n = Math.Min(1 + rng.Next(5), text.Length - i);
                text.Delete(i, n);
                model.Remove(i, n);
            }
            else
            {
                int i = rng.Next(text.Length + 1);
                string s = ((char)('a' + rng.Next(26))).ToString();
                text.Insert(i, s);
                model.Insert(i, s);
            }
            // sync both ways after every edit so that both documents equal the model
            b.ApplyUpdate(a.EncodeStateAsUpdate(b.EncodeStateVector()));
            a.ApplyUpdate(b.EncodeStateAsUpdate(a.EncodeStateVector()));
            Assert.Equal(model.ToString(), ta.ToString());
            Assert.Equal(model.ToString(), tb.ToString());
        }
    }

    [Fact]
    public void ObserverReportsWhichRootsChanged()
    {
        var doc = new YDoc(clientId: 5);
        var seen = new List<string[]>();
        doc.AfterTransaction += (_, e) => seen.Add(e.ChangedRoots.Order(StringComparer.Ordinal).ToArray());
        doc.Transact(() =>
        {
            doc.GetText("body").Insert(0, "hi");
            doc.GetMap("meta").Set("title", "x");
        });
        var nested = new YMap();
        doc.GetArray("list").Push(nested);
        nested.Set("k", 1);

        var remote = new YDoc(clientId: 6);
        var remoteSeen = new List<string[]>();
        remote.AfterTransaction += (_, e) => remoteSeen.Add(e.ChangedRoots.Order(StringComparer.Ordinal).ToArray());
        remote.ApplyUpdate(doc.EncodeStateAsUpdate());

        Assert.Equal(new[] { "body", "meta" }, seen[0]);
        Assert.Equal(new[] { "list" }, seen[1]);
        Assert.Equal(new[] { "list" }, seen[2]);
        Assert.Equal(new[] { "body", "list", "meta" }, remoteSeen.Single());
    }

    [Fact]
    public void RootsOnlyDefinedByUpdatesAreReadByInferringTheirKind()
    {
        var doc = new YDoc(clientId: 5);
        doc.GetText("t").Insert(0, "hello", new Dictionary<string, object?> { ["bold"] = true });
        doc.GetMap("m").Set("n", 3);
        doc.GetArray("a").Push(1, "x");
        var remote = new YDoc();
        var result = remote.ApplyUpdate(doc.EncodeStateAsUpdate());
        Assert.False(result.HasPending);
        Assert.Equal("Text", remote.RootKind("t"));
        Assert.Equal("Map", remote.RootKind("m"));
        Assert.Equal("Array", remote.RootKind("a"));
        Assert.Equal("{\"t\":\"hello\",\"m\":{\"n\":3},\"a\":[1,\"x\"]}", remote.ToJson());
    }

    [Fact]
    public void ApplyReportsPendingUpdatesUntilTheirDependenciesArrive()
    {
        var doc = new YDoc(clientId: 5);
        var updates = new List<byte[]>();
        doc.UpdateProduced += (_, e) => updates.Add(e.Update);
        doc.GetText("t").Insert(0, "ab");
        doc.GetText("t").Insert(2, "cd");
        var remote = new YDoc();
        var first = remote.ApplyUpdate(updates[1]);
        Assert.True(first.HasPendingStructs);
        Assert.Equal(1, first.Missing[5]); // pending until client 5 has more than clock 1
        Assert.Equal(string.Empty, remote.GetText("t").ToString());
        var second = remote.ApplyUpdate(updates[0]);
        Assert.False(second.HasPending);
        Assert.Equal("abcd", remote.GetText("t").ToString());
    }
}
