using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace CollabAkka.Yjs.Tests;

/// <summary>
/// Acceptance 1: our merged updates, state vectors and diffs are applied by the real yjs (the shared
/// checker in Node) and must give the reference content and state for every vector.
/// </summary>
public sealed class CheckerTests
{
    private readonly ITestOutputHelper _output;

    public CheckerTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void RealYjsAcceptsOurMergesStateVectorsAndDiffsForEveryVector()
    {
        RunChecker(useDocument: false);
    }

    [Fact]
    public void RealYjsAcceptsDocumentEncodedStateAndDiffsForEveryVector()
    {
        RunChecker(useDocument: true);
    }

    private void RunChecker(bool useDocument)
    {
        string work = Path.Combine(TestEnvironment.RepoRoot, "tests", "Yjs.Tests", "bin", "checker-run-" + Guid.NewGuid().ToString("N"));
        string candidates = Path.Combine(work, "candidates");
        Directory.CreateDirectory(candidates);
        try
        {
            // The checker resolves 'yjs' from its own location: run a copy inside the repo so it finds node_modules.
            foreach (var f in new[] { "check.mjs", "lib.mjs" })
            {
                File.Copy(Path.Combine(TestEnvironment.VectorsDir, "checker", f), Path.Combine(work, f));
            }
            foreach (var name in VectorSupport.VectorNames())
            {
                File.WriteAllText(Path.Combine(candidates, name + ".json"), Candidate(name, useDocument).ToJsonString());
            }
            var (code, output) = TestEnvironment.RunNode(work, Path.Combine(work, "check.mjs"), TestEnvironment.VectorsDir, candidates);
            _output.WriteLine(output);
            Assert.True(code == 0, output);
            Assert.Contains("200 passed, 0 failed", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static JsonObject Candidate(string name, bool useDocument)
    {
        var vec = VectorSupport.Load(name);
        var updates = VectorSupport.Updates(vec);
        var roots = VectorSupport.Roots(vec["expected"]!);
        var doc = new YDoc();
        foreach (var u in updates)
        {
            doc.ApplyUpdate(u);
        }
        byte[] merged = useDocument ? doc.EncodeStateAsUpdate() : YUpdate.Merge(updates);
        var diffs = new JsonArray();
        foreach (var d in vec["diffs"]!.AsArray())
        {
            var sv = Convert.FromBase64String(d!["sv"]!.GetValue<string>());
            var diff = useDocument ? doc.EncodeStateAsUpdate(sv) : YUpdate.Diff(merged, sv);
            diffs.Add(new JsonObject { ["sv"] = Convert.ToBase64String(sv), ["diff"] = Convert.ToBase64String(diff) });
        }
        return new JsonObject
        {
            ["merged"] = Convert.ToBase64String(merged),
            ["stateVector"] = Convert.ToBase64String(YUpdate.EncodeStateVectorFromUpdate(merged)),
            ["diffs"] = diffs,
            ["content"] = JsonNode.Parse(VectorSupport.Content(doc, roots)),
            ["updateStateVectors"] = new JsonArray(updates.Select(u => (JsonNode)Convert.ToBase64String(YUpdate.EncodeStateVectorFromUpdate(u))).ToArray()),
        };
    }
}
