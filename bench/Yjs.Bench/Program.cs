// Y.js engine benchmark: replays real editing traces with our engine and with yjs in Node (same run)
// and prints the time of each operation and the ratio (Node time / C# time; > 1 means we are faster).
//
//   dotnet run -c Release --project bench/Yjs.Bench [-- [--iterations N] [--traces DIR] [--markdown FILE]]
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CollabAkka.Yjs;

int iterations = 2;
string? tracesDir = null;
string? markdownOut = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--iterations": iterations = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--traces": tracesDir = args[++i]; break;
        case "--markdown": markdownOut = args[++i]; break;
    }
}
string repoRoot = FindRepoRoot();
tracesDir ??= Path.Combine(Environment.GetEnvironmentVariable("COLLAB_SHARED_DIR") ?? Path.Combine(repoRoot, "..", "shared"), "traces");

var report = new StringBuilder();
report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {iterations} iterations per operation (best time), {DateTime.UtcNow:yyyy-MM-dd}.");
report.AppendLine();
bool allOk = true;
foreach (var name in new[] { "automerge-paper", "friendsforever" })
{
    string file = Path.Combine(tracesDir, name + ".json.gz");
    var trace = JsonNode.Parse(new GZipStream(File.OpenRead(file), CompressionMode.Decompress))!.AsObject();
    var cs = Bench.Run(trace, iterations);
    var node = RunNode(repoRoot, file, iterations);
    bool ok = cs.TextOk && cs.MergeOk && node["textOk"]!.GetValue<bool>() && node["mergeOk"]!.GetValue<bool>();
    allOk &= ok;
    report.AppendLine(CultureInfo.InvariantCulture, $"### {name} ({cs.Updates:N0} updates, final update {cs.UpdateBytes:N0} bytes, final text equals endContent: C# {cs.TextOk}, yjs {node["textOk"]})");
    report.AppendLine();
    report.AppendLine("| operation | C# ms | yjs (Node) ms | ratio (yjs / C#) |");
    report.AppendLine("| --- | ---: | ---: | ---: |");
    foreach (var (label, key, ms) in new[]
    {
        ("local edits (replay the trace, one transaction per edit)", "localEdits", cs.LocalEdits),
        ("apply every edit as its own update", "applyEach", cs.ApplyEach),
        ("load the final document from one update", "loadFinal", cs.LoadFinal),
        ("encode the state as one update", "encodeState", cs.EncodeState),
        ("merge all updates (groups of 100, then the groups)", "merge", cs.Merge),
        ("diff the final update against 5 state vectors", "diff", cs.Diff),
    })
    {
        double n = node[key]!.GetValue<double>();
        report.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {ms:F1} | {n:F1} | {n / ms:F2}x |");
    }
    report.AppendLine();
}
Console.WriteLine(report.ToString());
if (markdownOut != null)
{
    File.WriteAllText(markdownOut, report.ToString());
}
return allOk ? 0 : 1;

static JsonObject RunNode(string repoRoot, string file, int iterations)
{
    var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = repoRoot };
    psi.ArgumentList.Add(Path.Combine(repoRoot, "bench", "Yjs.Bench", "js", "bench.mjs"));
    psi.ArgumentList.Add(file);
    psi.ArgumentList.Add(iterations.ToString(CultureInfo.InvariantCulture));
    using var p = Process.Start(psi)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException("node bench failed");
    }
    return JsonNode.Parse(output)!.AsObject();
}

static string FindRepoRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir != null && !File.Exists(Path.Combine(dir.FullName, "CollabAkka.sln")))
    {
        dir = dir.Parent;
    }
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}

internal sealed record BenchResult(double LocalEdits, double ApplyEach, double LoadFinal, double EncodeState, double Merge, double Diff, int Updates, int UpdateBytes, bool TextOk, bool MergeOk);

internal static class Bench
{
    private sealed record Patch(int Pos, int Del, string Ins);

    private sealed record Txn(Patch[] Patches, int[] Parents, int Agent);

    public static BenchResult Run(JsonObject trace, int iterations)
    {
        string endContent = trace["endContent"]!.GetValue<string>();
        bool concurrent = trace["kind"]?.GetValue<string>() == "concurrent";
        int numAgents = trace["numAgents"]?.GetValue<int>() ?? 1;
        var txns = trace["txns"]!.AsArray().Select(t => new Txn(
            t!["patches"]!.AsArray().Select(p => new Patch(p![0]!.GetValue<int>(), p[1]!.GetValue<int>(), p[2]!.GetValue<string>())).ToArray(),
            t["parents"]?.AsArray().Select(x => x!.GetValue<int>()).ToArray() ?? [],
            t["agent"]?.GetValue<int>() ?? 0)).ToList();
        if (txns.Any(t => t.Patches.Any(p => p.Ins.Any(char.IsSurrogate))))
        {
            throw new InvalidOperationException("trace inserts characters outside the BMP: code point positions would need mapping");
        }

        var (localMs, (doc, updates)) = Time(iterations, () => concurrent ? ReplayConcurrent(txns, numAgents) : ReplaySequential(txns));
        bool textOk = doc.GetText("text").ToString() == endContent;
        var (applyMs, _) = Time(iterations, () =>
        {
            var d = new YDoc();
            foreach (var u in updates)
            {
                d.ApplyUpdate(u);
            }
            return d;
        });
        var full = doc.EncodeStateAsUpdate();
        var (loadMs, _) = Time(iterations, () =>
        {
            var d = new YDoc();
            d.ApplyUpdate(full);
            return d.GetText("text").ToString().Length;
        });
        var (encodeMs, _) = Time(iterations, () => doc.EncodeStateAsUpdate());
        var (mergeMs, merged) = Time(iterations, () =>
        {
            var groups = new List<byte[]>();
            for (int i = 0; i < updates.Count; i += 100)
            {
                groups.Add(YUpdate.Merge(updates.GetRange(i, Math.Min(100, updates.Count - i))));
            }
            return YUpdate.Merge(groups);
        });
        var check = new YDoc();
        check.ApplyUpdate(merged);
        bool mergeOk = check.GetText("text").ToString() == endContent;
        var svs = new[] { 0, 0.25, 0.5, 0.75, 1 }.Select(f =>
        {
            var d = new YDoc();
            int k = (int)Math.Floor(f * updates.Count);
            for (int i = 0; i < k; i++)
            {
                d.ApplyUpdate(updates[i]);
            }
            return d.EncodeStateVector();
        }).ToList();
        var (diffMs, _) = Time(iterations, () => svs.Sum(sv => YUpdate.Diff(full, sv).Length));
        return new BenchResult(localMs, applyMs, loadMs, encodeMs, mergeMs, diffMs, updates.Count, full.Length, textOk, mergeOk);
    }

    private static (double Ms, T Result) Time<T>(int iterations, Func<T> f)
    {
        double best = double.MaxValue;
        T result = default!;
        for (int i = 0; i < iterations; i++)
        {
            GC.Collect();
            var sw = Stopwatch.StartNew();
            result = f();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return (best, result);
    }

    private static void ApplyPatches(YText text, Patch[] patches)
    {
        foreach (var p in patches)
        {
            if (p.Del > 0)
            {
                text.Delete(p.Pos, p.Del);
            }
            if (p.Ins.Length > 0)
            {
                text.Insert(p.Pos, p.Ins);
            }
        }
    }

    private static (YDoc, List<byte[]>) ReplaySequential(List<Txn> txns)
    {
        var doc = new YDoc(clientId: 1);
        var updates = new List<byte[]>(txns.Count);
        doc.UpdateProduced += (_, e) => updates.Add(e.Update);
        var text = doc.GetText("text");
        foreach (var txn in txns)
        {
            doc.Transact(() => ApplyPatches(text, txn.Patches));
        }
        return (doc, updates);
    }

    private static (YDoc, List<byte[]>) ReplayConcurrent(List<Txn> txns, int numAgents)
    {
        int n = txns.Count;
        var docs = new YDoc[numAgents];
        var applied = new bool[numAgents][];
        var updates = new byte[n][];
        byte[]? captured = null;
        for (int a = 0; a < numAgents; a++)
        {
            docs[a] = new YDoc(clientId: a + 1);
            applied[a] = new bool[n];
            docs[a].UpdateProduced += (_, e) =>
            {
                if (e.Local)
                {
                    captured = e.Update;
                }
            };
        }
        for (int i = 0; i < n; i++)
        {
            var txn = txns[i];
            int a = txn.Agent;
            var doc = docs[a];
            var done = applied[a];
            // bring the agent's document to exactly the version after the transaction's parents
            var stack = new Stack<int>(txn.Parents);
            while (stack.Count > 0)
            {
                int p = stack.Peek();
                if (done[p])
                {
                    stack.Pop();
                    continue;
                }
                bool pushed = false;
                foreach (var q in txns[p].Parents)
                {
                    if (!done[q])
                    {
                        stack.Push(q);
                        pushed = true;
                    }
                }
                if (pushed)
                {
                    continue;
                }
                stack.Pop();
                done[p] = true;
                doc.ApplyUpdate(updates[p]);
            }
            captured = null;
            doc.Transact(() => ApplyPatches(doc.GetText("text"), txn.Patches));
            updates[i] = captured ?? [0, 0];
            done[i] = true;
        }
        var final = new YDoc();
        foreach (var u in updates)
        {
            final.ApplyUpdate(u);
        }
        return (final, updates.ToList());
    }
}
