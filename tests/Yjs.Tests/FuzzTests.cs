using System.Diagnostics;
using Xunit.Abstractions;

namespace CollabAkka.Yjs.Tests;

/// <summary>
/// Acceptance 3: corrupted and truncated updates are refused with <see cref="YjsDecodeException"/>
/// and leave the document unchanged; nothing else is ever thrown, nothing hangs, and length fields
/// cannot make the decoder allocate more than the input justifies.
/// </summary>
public sealed class FuzzTests
{
    private const int Seed = 20240611;
    private readonly ITestOutputHelper _output;

    public FuzzTests(ITestOutputHelper output) => _output = output;

    private static List<byte[]> Corpus()
    {
        var corpus = new List<byte[]>();
        foreach (var name in VectorSupport.VectorNames())
        {
            var vec = VectorSupport.Load(name);
            var updates = VectorSupport.Updates(vec);
            corpus.AddRange(updates.Where(u => u.Length > 2));
            corpus.Add(Convert.FromBase64String(vec["merged"]!.GetValue<string>()));
        }
        return corpus;
    }

    [Fact]
    public void EveryTruncatedUpdateIsRefusedAndLeavesTheDocumentUnchanged()
    {
        var rng = new Random(Seed);
        var corpus = Corpus();
        int refused = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 10000; i++)
        {
            var source = corpus[rng.Next(corpus.Count)];
            var truncated = source.AsSpan(0, rng.Next(source.Length)).ToArray();
            var doc = BaseDocument(rng, corpus);
            var before = Snapshot(doc);
            var e = Assert.Throws<YjsDecodeException>(() => doc.ApplyUpdate(truncated));
            Assert.False(string.IsNullOrEmpty(e.Message));
            Assert.Equal(before, Snapshot(doc));
            Assert.Throws<YjsDecodeException>(() => YUpdate.Validate(truncated));
            Assert.Throws<YjsDecodeException>(() => YUpdate.Merge(new[] { source, truncated }));
            Assert.Throws<YjsDecodeException>(() => YUpdate.EncodeStateVectorFromUpdate(truncated));
            refused++;
        }
        _output.WriteLine($"seed {Seed}: {refused} truncated updates refused in {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void CorruptedUpdatesAreRefusedWithTheDecodeErrorOrApplyCleanly()
    {
        var rng = new Random(Seed + 1);
        var corpus = Corpus();
        int refused = 0, accepted = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20000; i++)
        {
            var source = corpus[rng.Next(corpus.Count)];
            var corrupted = Corrupt(rng, source);
            var doc = BaseDocument(rng, corpus);
            var before = Snapshot(doc);
            bool valid = YUpdate.IsValid(corrupted, out _);
            try
            {
                doc.ApplyUpdate(corrupted);
                Assert.True(valid, "ApplyUpdate accepted an update that Validate refused");
                accepted++;
                // the document must still be usable: encode, reload, read
                var reloaded = new YDoc();
                reloaded.ApplyUpdate(doc.EncodeStateAsUpdate());
                _ = reloaded.ToJson();
                _ = YUpdate.Merge(new[] { source, corrupted });
                _ = YUpdate.Diff(corrupted, doc.EncodeStateVector());
                _ = YUpdate.EncodeStateVectorFromUpdate(corrupted);
            }
            catch (YjsDecodeException)
            {
                Assert.False(valid, "ApplyUpdate refused an update that Validate accepted");
                Assert.Equal(before, Snapshot(doc));
                Assert.Throws<YjsDecodeException>(() => YUpdate.Merge(new[] { source, corrupted }));
                Assert.Throws<YjsDecodeException>(() => YUpdate.Diff(corrupted, new byte[] { 0 }));
                refused++;
            }
        }
        _output.WriteLine($"seed {Seed + 1}: {refused} corrupted updates refused, {accepted} still well-formed and applied, {sw.ElapsedMilliseconds} ms");
        Assert.True(refused > 10000, $"only {refused} of 20000 corruptions were detected");
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })] // client count near 2^53
    [InlineData(new byte[] { 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x00 })] // struct count near 2^53
    [InlineData(new byte[] { 0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })] // string length 4 GiB
    [InlineData(new byte[] { 0x01, 0x01, 0x01, 0x00, 0x08, 0x01, 0x01, 0x74, 0xFF, 0xFF, 0xFF, 0x7F, 0x75, 0xFF, 0xFF, 0xFF, 0x7F })] // any-array length 2^28
    [InlineData(new byte[] { 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })] // delete-set client count 2^32
    [InlineData(new byte[] { 0x00, 0x01, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })] // delete ranges 2^32
    [InlineData(new byte[] { 0x01, 0x01, 0x01, 0x00, 0x0B, 0x00 })] // unknown content ref 11
    [InlineData(new byte[] { 0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0xC3, 0x00 })] // invalid UTF-8
    [InlineData(new byte[] { 0x00, 0x00, 0x00 })] // trailing byte
    [InlineData(new byte[] { 0x01, 0x01, 0x01, 0x00, 0x05, 0x01, 0x01, 0x74, 0x02, 0x7B, 0x7B, 0x00 })] // invalid JSON embed
    public void HostileLengthFieldsAreRefusedQuickly(byte[] update)
    {
        var doc = new YDoc();
        var before = Snapshot(doc);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        Assert.Throws<YjsDecodeException>(() => doc.ApplyUpdate(update));
        Assert.True(sw.ElapsedMilliseconds < 1000);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1 << 20, "decoder allocated more than 1 MiB for a tiny input");
        Assert.Equal(before, Snapshot(doc));
    }

    [Fact]
    public void DeeplyNestedAnyValuesAreRefusedWithoutStackOverflow()
    {
        // 100,000 nested one-element arrays inside ContentAny
        var body = new List<byte> { 0x01, 0x01, 0x01, 0x00, 0x08, 0x01, 0x01, 0x74, 0x01 };
        for (int i = 0; i < 100_000; i++)
        {
            body.Add(0x75);
            body.Add(0x01);
        }
        body.Add(0x7E);
        body.Add(0x00);
        Assert.Throws<YjsDecodeException>(() => new YDoc().ApplyUpdate(body.ToArray()));
    }

    private static byte[] Corrupt(Random rng, byte[] source)
    {
        var b = source.ToList();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b.Insert(at, (byte)rng.Next(256)); break;
                case 3: b.RemoveAt(at); break;
                case 4: b[at] = 0xFF; break;
                default: b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(8))); break;
            }
        }
        return b.ToArray();
    }

    private static YDoc BaseDocument(Random rng, List<byte[]> corpus)
    {
        var doc = new YDoc();
        if (rng.Next(2) == 0)
        {
            doc.ApplyUpdate(corpus[rng.Next(corpus.Count)]);
        }
        return doc;
    }

    private static string Snapshot(YDoc doc) =>
        Convert.ToBase64String(doc.EncodeStateAsUpdate()) + "|" + Convert.ToBase64String(doc.EncodeStateVector()) + "|" + doc.ToJson() + "|" + doc.HasPendingStructs + doc.HasPendingDeletes;
}
