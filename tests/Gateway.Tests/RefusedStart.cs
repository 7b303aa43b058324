using System.Diagnostics;

namespace CollabAkka.Gateway.Tests;

/// <summary>Starts the node as its own process with a resources file and waits for it to exit (it should refuse to start).</summary>
internal static class RefusedStart
{
    public static async Task<(int ExitCode, string Stderr)> RunAsync(string resourcesFile, string dataDir)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                Path.Combine(AppContext.BaseDirectory, "CollabAkka.Node.dll"), "--urls", "http://127.0.0.1:0", "--Collab:Profile=embedded",
                $"--Collab:ResourcesFile={resourcesFile}", $"--Collab:DataDir={dataDir}",
            },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stderr);
    }
}
