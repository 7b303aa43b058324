using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// Issue 12, the crash cases, each against a node in its own process: afterwards the process is still
/// running and the document is still readable (also after a restart for the durable case).
/// </summary>
public sealed class HardeningProcessTests
{
    /// <summary>An update nesting <paramref name="levels"/> maps below root map "form" (made with the local API, which is unlimited).</summary>
    private static byte[] NestedMaps(int levels)
    {
        var source = new YDoc(clientId: 77, maxDepth: YLimits.MaxSupportedDepth);
        var before = source.EncodeStateVector();
        var current = source.GetMap("form");
        source.Transact(() =>
        {
            for (var i = 0; i < levels; i++)
            {
                var child = new YMap();
                current.Set("m", child);
                current = child;
            }
        });
        return source.EncodeStateAsUpdate(before);
    }

    private static async Task<JsonElement> ContentAsync(CollabNodeProcess node, string token, string doc, long? revision = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"/api/resources/{Uri.EscapeDataString(doc)}/content" + (revision is null ? "" : $"?revision={revision}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await node.Http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"content answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task DeeplyNestedUpdatesAreRefusedAndTheNodeKeepsServingTheDocument()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-deep-").FullName;
        var doc = "patient-chart:deep-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await using (var node = await CollabNodeProcess.StartAsync(dataDir))
            {
                var token = await node.GetTokenAsync("attacker");
                await using var client = await CollabTestClient.ConnectAsync(node.BaseUrl, token);
                Assert.True((await client.JoinAsync(doc, "editor")).Success);
                var ok = new YDoc(clientId: 5);
                ok.GetText("notes").Insert(0, "BP 120/80");
                Assert.True((await client.UpdateAsync(doc, ok.EncodeStateAsUpdate())).Success);

                // 30,000 nested maps in one update (under MaxUpdateBytes): refused, nothing stored.
                var huge = NestedMaps(30_000);
                Assert.True(huge.Length < 256 * 1024, $"{huge.Length} bytes");
                var refused = await client.UpdateAsync(doc, huge);
                Assert.Equal("INVALID_UPDATE", refused.Error?.Code);
                // 62 levels in 500 bytes: refused too (the default limit is 32).
                Assert.Equal("INVALID_UPDATE", (await client.UpdateAsync(doc, NestedMaps(62))).Error?.Code);

                // Depth built up one level per update: accepted up to the limit, then refused.
                var source = new YDoc(clientId: 78, maxDepth: YLimits.MaxSupportedDepth);
                var deepest = source.GetMap("form");
                var accepted = 0;
                for (var level = 0; level < 40; level++)
                {
                    var before = source.EncodeStateVector();
                    var child = new YMap();
                    var parent = deepest;
                    source.Transact(() => parent.Set("m", child));
                    deepest = child;
                    var step = source.EncodeStateAsUpdate(before);
                    var reply = await client.UpdateAsync(doc, step);
                    if (!reply.Success)
                    {
                        Assert.Equal("INVALID_UPDATE", reply.Error?.Code);
                        break;
                    }
                    accepted++;
                }
                Assert.Equal(YLimits.DefaultMaxDepth - 1, accepted); // root map "form" is level 1

                // Every read still works: live content, content at a revision, a stale form save's current state.
                var live = await ContentAsync(node, token, doc);
                Assert.Equal("BP 120/80", live.GetProperty("content").GetProperty("notes").GetString());
                var revision = live.GetProperty("revision").GetInt64();
                Assert.Equal(1 + accepted, revision);
                var atOne = await ContentAsync(node, token, doc, 1);
                Assert.Equal("BP 120/80", atOne.GetProperty("content").GetProperty("notes").GetString());
                var stale = await client.SaveFieldAsync(doc, "summary", "x", 0);
                Assert.Equal("STALE_REVISION", stale.Error?.Code);
                Assert.False(node.HasExited);
                await node.StopAsync();
            }
            // Durable state reloads: the refused updates were never stored.
            await using var again = await CollabNodeProcess.StartAsync(dataDir);
            var reader = await again.GetTokenAsync("reader");
            var reloaded = await ContentAsync(again, reader, doc);
            Assert.Equal("BP 120/80", reloaded.GetProperty("content").GetProperty("notes").GetString());
            Assert.False(again.HasExited);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task AFloodOfIdleSocketsDoesNotExhaustTheNodesFileDescriptors()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-fds-").FullName;
        const int fdLimit = 1024;
        await using var node = await CollabNodeProcess.StartWithFileLimitAsync(dataDir, fdLimit,
            "--Collab:Security:MaxConnectionsPerIp=150", "--Collab:Security:ConnectionAttemptBurst=1000",
            "--Collab:Security:ConnectionAttemptsPerIpPerSecond=1000");
        var token = await node.GetTokenAsync("clinician");
        var doc = "patient-chart:fds";
        await using (var editor = await CollabTestClient.ConnectAsync(node.BaseUrl, token))
        {
            Assert.True((await editor.JoinAsync(doc, "editor")).Success);
            var text = new YDoc(clientId: 9);
            text.GetText("notes").Insert(0, "kept");
            Assert.True((await editor.UpdateAsync(doc, text.EncodeStateAsUpdate())).Success);
        }
        var port = node.BaseUrl.Port;
        var sockets = new List<Socket>();
        try
        {
            // Idle connections, 100 from each loopback address, until more are open than the process has descriptors
            // for (about 1,600 attempts on an idle machine; a loaded one refuses more at the full backlog, so it keeps
            // going, up to 4,000 attempts).
            for (var ip = 2; ip < 42 && sockets.Count <= fdLimit + 200; ip++)
            {
                for (var i = 0; i < 100; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{ip}"), 0));
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                        sockets.Add(socket);
                    }
                    catch (SocketException)
                    {
                        socket.Dispose(); // the backlog is full: refused at the door is fine
                    }
                }
            }
            Assert.True(sockets.Count > fdLimit, $"only {sockets.Count} sockets connected");
            Assert.False(node.HasExited, node.RecentOutput);
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
        // Once the flood is gone the node answers again, with the document intact.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.False(node.HasExited, node.RecentOutput);
            try
            {
                using var health = await node.Http.GetAsync("/health");
                if (health.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            await Task.Delay(200); // polling for the server to drain closed sockets; there is no event to await
        }
        var content = await ContentAsync(node, token, doc);
        Assert.Equal("kept", content.GetProperty("content").GetProperty("notes").GetString());
        Directory.Delete(dataDir, recursive: true);
    }

    [Fact]
    public async Task PerIpCapAndHeaderTimeoutCloseIdleSockets()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-idle-").FullName;
        await using var node = await CollabNodeProcess.StartAsync(dataDir, null,
            "--Collab:Security:MaxConnectionsPerIp=5", "--Collab:Security:RequestHeadersTimeout=00:00:02");
        var port = node.BaseUrl.Port;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.9"), 0));
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                    await socket.SendAsync(Encoding.ASCII.GetBytes("GET /health HTTP/1.1\r\nHost: x\r\n")); // headers never finished
                }
                catch (SocketException) when (i >= 5)
                {
                    // Over the per-IP cap (5) the server may reset the socket before the connect or the write returns:
                    // closed at once, as expected.
                    socket.Dispose();
                    continue;
                }
                sockets.Add(socket);
            }
            // Every one of them is closed by the server: 3 at once (over the per-IP cap), the rest by the header timeout.
            var buffer = new byte[1024];
            foreach (var s in sockets)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                int read;
                try
                {
                    do
                    {
                        read = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                    }
                    while (read > 0 && !Encoding.ASCII.GetString(buffer, 0, read).Contains("408", StringComparison.Ordinal) && read > 0);
                }
                catch (SocketException)
                {
                    read = 0; // reset by the server
                }
                Assert.True(read == 0 || Encoding.ASCII.GetString(buffer, 0, read).Contains("408", StringComparison.Ordinal));
            }
            // A well-behaved client from another address is served meanwhile.
            using var health = await node.Http.GetAsync("/health");
            Assert.True(health.IsSuccessStatusCode);
            Assert.False(node.HasExited);
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
