using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;

namespace CollabAkka.TestKit;

/// <summary>
/// A node as its own operating-system process (the published <c>CollabAkka.Node.dll</c>), for what only a
/// real process shows: a clean stop and start, a <c>kill -9</c>, the exit code of a refused start.
/// </summary>
public sealed class CollabNodeProcess : ICollabNode, IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly CollabNodeEndpoint _endpoint;

    private CollabNodeProcess(Process process, Uri baseUrl, string dataDir)
    {
        _process = process;
        BaseUrl = baseUrl;
        DataDir = dataDir;
        _http = new HttpClient { BaseAddress = baseUrl };
        _endpoint = new CollabNodeEndpoint(_http);
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

    /// <summary>
    /// A port this kit chose is free when chosen, not when the node binds it: in between, the node's own remoting (port
    /// 0 on an embedded node) or any other socket may be handed the same port by the kernel (seen in CI: Kestrel's bind
    /// failed with "address already in use"). Such a start is tried again on a fresh port; a port the caller gave is not.
    /// </summary>
    private static async Task<CollabNodeProcess> StartCoreAsync(string dataDir, int? port, int? fileDescriptorLimit, string[] args)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(dataDir, port ?? FreePort(), fileDescriptorLimit, args).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex) when (port is null && attempt < 3 && ex.Message.Contains("address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<CollabNodeProcess> StartOnceAsync(string dataDir, int port, int? fileDescriptorLimit, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "CollabAkka.Node.dll");
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
                await process.WaitForExitAsync().ConfigureAwait(false); // its last lines read, so the message carries them
                var failure = $"The node exited with {process.ExitCode} while starting: {node.RecentOutput}";
                await node.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException(failure);
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
                await node.DisposeAsync().ConfigureAwait(false);
                throw new TimeoutException("The node did not answer /health within 60 s.");
            }
            await Task.Delay(50).ConfigureAwait(false); // polling a process that has no other readiness signal
        }
    }

    public Task<string> GetTokenAsync(string userId, string? username = null, string role = "doctor") => _endpoint.GetTokenAsync(userId, username, role);

    public Task<JsonElement> GetResourceStateAsync(string resourceId) => _endpoint.GetAsOperatorAsync($"/api/resources/{resourceId}");

    public Task<JsonElement> GetContentAsync(string resourceId) => _endpoint.GetAsOperatorAsync($"/api/resources/{resourceId}/content");

    public Task<JsonElement> GetMembersAsync() => _endpoint.GetMembersAsync();

    public Task<JsonElement> GetAsOperatorAsync(string path) => _endpoint.GetAsOperatorAsync(path);

    public Task<JsonElement> PostAsOperatorAsync(string path) => _endpoint.PostAsOperatorAsync(path);

    public Task<CollabTestClient> ConnectAsync(string userId, string? username = null, string role = "doctor") => _endpoint.ConnectAsync(userId, username, role);

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
    public static int FreePort() => FreePorts(1)[0];

    /// <summary>
    /// <paramref name="count"/> distinct free loopback ports: all are held open until every one is chosen, because one
    /// released at a time the kernel may hand the same port out twice (seen in CI: two nodes of one cluster given one
    /// remoting port, both bound it, and the cluster never formed).
    /// </summary>
    public static int[] FreePorts(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return [.. listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }
    }
}
