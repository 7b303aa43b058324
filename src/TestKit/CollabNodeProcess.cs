using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace CollabAkka.TestKit;

/// <summary>
/// A node as its own operating-system process (the published <c>CollabAkka.Node.dll</c>), for what only a
/// real process shows: a clean stop and start, a <c>kill -9</c>, the exit code of a refused start.
/// </summary>
public sealed class CollabNodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;

    private CollabNodeProcess(Process process, Uri baseUrl, string dataDir)
    {
        _process = process;
        BaseUrl = baseUrl;
        DataDir = dataDir;
        _http = new HttpClient { BaseAddress = baseUrl };
    }

    public Uri BaseUrl { get; }
    public string DataDir { get; }
    public HttpClient Http => _http;
    public int ProcessId => _process.Id;

    /// <summary>Whether the process has ended (crashed, been killed or stopped).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the process wrote to stdout and stderr (for failure messages).</summary>
    public string RecentOutput
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    private readonly Queue<string> _output = new();

    /// <summary>Starts the node on a free loopback port and waits until <c>/health</c> answers.</summary>
    public static Task<CollabNodeProcess> StartAsync(string dataDir, int? port = null, params string[] args) =>
        StartCoreAsync(dataDir, port, null, args);

    /// <summary>Like <see cref="StartAsync"/>, with the process's open-file limit set to <paramref name="fileDescriptorLimit"/> (prlimit).</summary>
    public static Task<CollabNodeProcess> StartWithFileLimitAsync(string dataDir, int fileDescriptorLimit, params string[] args) =>
        StartCoreAsync(dataDir, null, fileDescriptorLimit, args);

    private static async Task<CollabNodeProcess> StartCoreAsync(string dataDir, int? port, int? fileDescriptorLimit, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "CollabAkka.Node.dll");
        port ??= FreePort();
        var start = new ProcessStartInfo(fileDescriptorLimit is null ? "dotnet" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (fileDescriptorLimit is { } nofile)
        {
            start.ArgumentList.Add($"--nofile={nofile}:{nofile}");
            start.ArgumentList.Add("dotnet");
        }
        foreach (var a in (string[])[dll, "--urls", $"http://127.0.0.1:{port}", "--Collab:Profile=embedded", $"--Collab:DataDir={dataDir}", "--Collab:ConsoleLogs=false"])
        {
            start.ArgumentList.Add(a);
        }
        // The store from the environment (TestStores), keyed by the data directory so a restart finds its state.
        foreach (var (key, value) in await TestStores.NodeSettingsAsync(dataDir).ConfigureAwait(false))
        {
            start.ArgumentList.Add($"--{key}={value}");
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var node = new CollabNodeProcess(process, new Uri($"http://127.0.0.1:{port}"), dataDir);
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (node._output)
            {
                node._output.Enqueue(line.Length > 500 ? line[..500] : line);
                while (node._output.Count > 40)
                {
                    node._output.Dequeue();
                }
            }
        }
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The node exited with {process.ExitCode} while starting: {node.RecentOutput}");
            }
            try
            {
                using var health = await node._http.GetAsync("/health").ConfigureAwait(false);
                if (health.IsSuccessStatusCode)
                {
                    return node;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                await node.KillAsync().ConfigureAwait(false);
                throw new TimeoutException("The node did not answer /health within 60 s.");
            }
            await Task.Delay(50).ConfigureAwait(false); // polling a process that has no other readiness signal
        }
    }

    public async Task<string> GetTokenAsync(string userId, string? username = null, string role = "doctor")
    {
        using var response = await _http.PostAsJsonAsync("/dev/token", new { userId, username = username ?? userId, role }).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>().ConfigureAwait(false)).GetProperty("token").GetString()!;
    }

    private string? _operatorToken;

    /// <summary><c>GET /api/resources/{id}</c> as an operator (admin): the entity's state (owner, epoch, members, locks).</summary>
    public Task<JsonElement> GetResourceStateAsync(string resourceId) => GetAsOperatorAsync($"/api/resources/{resourceId}");

    /// <summary><c>GET /api/resources/{id}/content</c> as an operator (admin): the live document as JSON with its revision.</summary>
    public Task<JsonElement> GetContentAsync(string resourceId) => GetAsOperatorAsync($"/api/resources/{resourceId}/content");

    private async Task<JsonElement> GetAsOperatorAsync(string path)
    {
        // Each node signs its own dev tokens (with the key in its data directory, kept across restarts).
        _operatorToken ??= await GetTokenAsync("operator", "Operator", "admin").ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", _operatorToken);
        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false)).RootElement.Clone();
    }

    public async Task<CollabTestClient> ConnectAsync(string userId, string? username = null, string role = "doctor") =>
        await CollabTestClient.ConnectAsync(BaseUrl, await GetTokenAsync(userId, username, role).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>SIGTERM and wait: the node shuts down cleanly (flushes its audit buffer).</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync().ConfigureAwait(false);
            }
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
        _http.Dispose();
    }

    /// <summary>A free TCP port on loopback (for HTTP and Akka remoting).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
