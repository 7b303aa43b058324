using System.Diagnostics;

namespace CollabAkka.Yjs.Tests;

/// <summary>Locates the repository, the shared test data and Node (tests fail, not skip, without Node).</summary>
internal static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SharedDir => Environment.GetEnvironmentVariable("COLLAB_SHARED_DIR") is { Length: > 0 } d
        ? d
        : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string VectorsDir => Path.Combine(SharedDir, "yjs-vectors");

    public static string JsDir => Path.Combine(RepoRoot, "tests", "Yjs.Tests", "js");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "CollabAkka.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("CollabAkka.sln not found above " + AppContext.BaseDirectory);
    }

    public static string NodePath()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("NODE") is { Length: > 0 } env)
        {
            candidates.Add(env);
        }
        foreach (var p in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            if (p.Length > 0)
            {
                candidates.Add(Path.Combine(p, "node"));
            }
        }
        candidates.Add("/usr/local/bin/node");
        candidates.Add("/usr/bin/node");
        foreach (var c in candidates)
        {
            if (File.Exists(c))
            {
                return c;
            }
        }
        throw new InvalidOperationException("node was not found (PATH or $NODE); the cross-checks against real yjs need it.");
    }

    /// <summary>Runs node with arguments; returns exit code and combined output.</summary>
    public static (int ExitCode, string Output) RunNode(string workingDir, params string[] args)
    {
        var psi = new ProcessStartInfo(NodePath())
        {
            WorkingDirectory = workingDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
