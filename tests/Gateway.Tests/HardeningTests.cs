using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Yjs;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Gateway.Tests;

/// <summary>Issue 12 (hardening), the items that an in-process node shows; the crash cases are in <see cref="HardeningProcessTests"/>.</summary>
public sealed class HardeningTests
{
    private static string B64(byte[] b) => Convert.ToBase64String(b);

    private static Task<HubResponse> AwarenessAsync(CollabTestClient client, string doc, params YAwarenessEntry[] entries) =>
        client.InvokeAsync("awareness:update", new { resourceId = doc, update = B64(YAwareness.Encode(entries)) });

    // ---- item 3: awareness bounds -------------------------------------------------------------------------------

    [Fact]
    public async Task AwarenessIsBoundedPerConnectionPerRoomAndInShape()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:Documents:MaxAwarenessClientsPerConnection"] = "2",
                ["Collab:Documents:MaxAwarenessClientsPerRoom"] = "3",
                ["Collab:Documents:MaxAwarenessStateBytes"] = "600",
                ["Collab:Documents:MaxAwarenessSnapshotBytes"] = "1000",
            },
        });
        var doc = Ids.Unique("patient-chart:");
        await using var a = await node.ConnectAsync("aw-a");
        await using var b = await node.ConnectAsync("aw-b");
        await a.JoinAsync(doc, "editor");
        await b.JoinAsync(doc, "viewer");
        var big = "{\"cursor\":\"" + new string('x', 450) + "\"}";

        Assert.True((await AwarenessAsync(a, doc, new YAwarenessEntry(1, 1, big), new YAwarenessEntry(2, 1, big))).Success);
        var tooMany = await AwarenessAsync(a, doc, new YAwarenessEntry(3, 1, "{}"));
        Assert.Equal("VALIDATION_FAILED", tooMany.Error?.Code);
        Assert.Contains("MaxAwarenessClientsPerConnection", tooMany.Error!.Message);
        Assert.Equal("PAYLOAD_TOO_LARGE", (await AwarenessAsync(b, doc, new YAwarenessEntry(10, 1, big + new string(' ', 200)))).Error?.Code);
        Assert.Equal("INVALID_UPDATE", (await AwarenessAsync(b, doc, new YAwarenessEntry(10, 1, "[1,2]"))).Error?.Code);
        Assert.Equal("INVALID_UPDATE", (await AwarenessAsync(b, doc, new YAwarenessEntry(10, 1, "{\"user\":"))).Error?.Code);
        Assert.Equal("INVALID_UPDATE", (await AwarenessAsync(b, doc, new YAwarenessEntry(10, 1, "\"text\""))).Error?.Code);
        Assert.True((await AwarenessAsync(b, doc, new YAwarenessEntry(10, 1, "{\"focus\":\"notes\"}"))).Success);
        Assert.Equal("VALIDATION_FAILED", (await AwarenessAsync(b, doc, new YAwarenessEntry(11, 1, "{}"))).Error?.Code); // room holds 3

        // What A saw of B: only the one valid state, never the refused ones.
        Assert.True((await a.HeartbeatAsync()).Success);
        var relayed = a.EventsNamed("awareness:update")
            .SelectMany(e => YAwareness.Decode(Convert.FromBase64String(e.GetProperty("payload").GetProperty("update").GetString()!)))
            .ToList();
        Assert.All(relayed, e => Assert.Equal(10, e.ClientId));

        // A newcomer's snapshot is cut to MaxAwarenessSnapshotBytes, and every entry in it parses.
        await using var c = await node.ConnectAsync("aw-c");
        await c.JoinAsync(doc, "viewer");
        var snapshot = Convert.FromBase64String((await c.WaitForAsync("awareness:update")).GetProperty("payload").GetProperty("update").GetString()!);
        Assert.True(snapshot.Length <= 1000, $"{snapshot.Length} bytes");
        Assert.All(YAwareness.Decode(snapshot), e => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(e.StateJson).RootElement.ValueKind));
    }

    // ---- item 5: no token in logs or audit --------------------------------------------------------------------

    [Fact]
    public async Task NoLogFileOrAuditExportContainsTheToken()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Serilog:MinimumLevel:Default"] = "Information",
                // Even with ASP.NET Core's own request lines on (they carry the raw query), nothing leaks.
                ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
                ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Debug",
            },
        });
        var token = await node.GetTokenAsync("leaky", "Dr. Leaky", "doctor");
        var signature = token.Split('.')[2];
        var doc = Ids.Unique("patient-chart:");
        await using (var client = await CollabTestClient.ConnectAsync(node.BaseUrl, token))
        {
            await client.JoinAsync(doc, "editor");
        }
        foreach (var url in (string[])[$"/api/stats?access_token={token}&x=1", $"/api/resources/{doc}/content?access_token={token}", $"/api/resources/{doc}/history?ACCESS_TOKEN={token}"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await node.Http.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, url);
        }
        using (await node.Http.GetAsync($"/api/stats?access_token={token}")) { } // unauthenticated, token in the query only
        await node.FlushAuditAsync();

        var auditor = await node.GetTokenAsync("auditor-" + Guid.NewGuid().ToString("N")[..6], "Audrey", "auditor");
        using var export = new HttpRequestMessage(HttpMethod.Get, "/api/audit?format=ndjson");
        export.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auditor);
        using var exported = await node.Http.SendAsync(export);
        var trail = await exported.Content.ReadAsStringAsync();
        Assert.Contains("HISTORY_READ", trail, StringComparison.Ordinal);
        Assert.Contains("[redacted]", trail, StringComparison.Ordinal);
        Assert.DoesNotContain(signature, trail, StringComparison.Ordinal);

        var logs = Directory.GetFiles(Path.Combine(node.DataDir, "logs"));
        Assert.NotEmpty(logs);
        var all = new StringBuilder();
        foreach (var file in logs)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            all.Append(await reader.ReadToEndAsync());
        }
        var text = all.ToString();
        Assert.Contains("/api/stats", text, StringComparison.Ordinal); // the request log is still useful
        Assert.DoesNotContain(signature, text, StringComparison.Ordinal);
    }

    // ---- item 6: an outsider cannot fill the trail ----------------------------------------------------------

    [Fact]
    public async Task UnauthenticatedFloodsAreRateLimitedAndBarelyAudited()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:Security:UnauthenticatedAuditPerWindow"] = "10",
                ["Collab:Security:UnauthenticatedRequestBurst"] = "30",
                ["Collab:Security:UnauthenticatedRequestsPerIpPerSecond"] = "1",
            },
        });
        var query = "q=" + new string('a', 7 * 1024);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            using var r = await node.Http.GetAsync($"/api/resources/document:1/content?{query}");
            return r.StatusCode;
        }));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.Contains(HttpStatusCode.Unauthorized, statuses);
        await node.FlushAuditAsync();
        var rows = await node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.HttpRequest, Limit = 1000 });
        var anonymous = rows.Where(r => r.Event.UserId is null).ToList();
        Assert.InRange(anonymous.Count, 1, 10);
        Assert.All(anonymous, r => Assert.True((r.Event.Details?["query"]?.ToString()?.Length ?? 0) <= 256));
    }

    // ---- item 7: refused writes are audited, aggregated --------------------------------------------------------

    [Fact]
    public async Task RefusedWritesAreAuditedOncePerReasonAndCountedWhenTheConnectionEnds()
    {
        await using var node = await CollabTestNode.StartAsync();
        var doc = Ids.Unique("patient-chart:");
        var viewerId = Ids.Unique("viewer-");
        var edit = new YDoc(clientId: 3);
        edit.GetText("notes").Insert(0, "not yours");
        await using (var viewer = await node.ConnectAsync(viewerId, "V", "doctor"))
        {
            await viewer.JoinAsync(doc, "viewer");
            for (var i = 0; i < 20; i++)
            {
                Assert.Equal("PERMISSION_DENIED", (await viewer.UpdateAsync(doc, edit.EncodeStateAsUpdate())).Error?.Code);
            }
            Assert.Equal("VALIDATION_FAILED", (await viewer.InvokeAsync("doc:update", new { resourceId = doc })).Error?.Code);
        }
        await using var editor = await node.ConnectAsync(Ids.Unique("editor-"));
        await editor.JoinAsync(doc, "editor");
        Assert.Equal("INVALID_UPDATE", (await editor.UpdateAsync(doc, [1, 2, 3])).Error?.Code);
        await node.FlushAuditAsync();

        var rows = await node.QueryAuditAsync(new AuditQuery { EventType = "WRITE_REFUSED", Limit = 1000 });
        var denied = rows.Where(r => r.Event.UserId == viewerId && Equals(r.Event.Details?["code"]?.ToString(), "PERMISSION_DENIED")).ToList();
        Assert.Equal(2, denied.Count); // the first, then the count of the other 19 when the connection ended
        Assert.Equal(doc, denied[0].Event.ResourceId);
        Assert.Equal("19", denied[1].Event.Details?["suppressed"]?.ToString());
        Assert.Contains(rows, r => r.Event.UserId == viewerId && Equals(r.Event.Details?["code"]?.ToString(), "VALIDATION_FAILED"));
        Assert.Contains(rows, r => Equals(r.Event.Details?["code"]?.ToString(), "INVALID_UPDATE") && r.Event.ResourceId == doc);
    }

    // ---- item 9: an expired token closes the connection ------------------------------------------------------

    [Fact]
    public async Task AConnectionIsClosedWhenItsTokenExpires()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            // Long enough that a busy host still finishes the handshake before the token runs out (CI once took
            // over 2 s to hand-shake and the server rightly refused the already-expired token).
            Settings = { ["Auth:DevTokenLifetime"] = "00:00:08", ["Auth:ClockSkew"] = "00:00:00" },
        });
        var issued = Stopwatch.StartNew();
        await using var client = await node.ConnectAsync("short-lived");
        var closed = await Task.WhenAny(client.Closed, Task.Delay(TimeSpan.FromSeconds(40)));
        Assert.Same(client.Closed, closed);
        // Closed because the token expired, not for some other reason earlier on.
        Assert.InRange(issued.Elapsed.TotalSeconds, 7, 40);
    }

    // ---- item 10: identity must be unambiguous --------------------------------------------------------------

    [Fact]
    public async Task TokensWithoutSubjectWithAnAmbiguousRoleOrTooLongALifeAreRefused()
    {
        using var rsa = RSA.Create(2048);
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings =
            {
                ["Collab:Profile"] = "production",
                ["Auth:PublicKeyPem"] = rsa.ExportSubjectPublicKeyInfoPem(),
                ["Auth:Issuer"] = "https://idp.example",
                ["Auth:Audience"] = "collab",
                ["Collab:Security:MaxTokenLifetime"] = "12:00:00",
            },
        });
        var credentials = new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
        string Sign(IDictionary<string, object> claims, TimeSpan life, string? issuer = "https://idp.example", string? audience = "collab")
        {
            var now = DateTime.UtcNow;
            return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
            {
                Claims = claims,
                IssuedAt = now.AddMinutes(-1),
                NotBefore = now.AddMinutes(-1),
                Expires = now.Add(life),
                Issuer = issuer,
                Audience = audience,
                SigningCredentials = credentials,
            });
        }
        async Task<string> Refusal(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/hubs/collab/negotiate?negotiateVersion=1");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await node.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        }
        var good = Sign(new Dictionary<string, object> { ["sub"] = "u1", ["name"] = "U", ["role"] = "doctor" }, TimeSpan.FromHours(1));
        await using (var ok = await CollabTestClient.ConnectAsync(node.BaseUrl, good))
        {
            Assert.Equal("u1", ok.UserId);
        }
        Assert.Contains("no subject", await Refusal(Sign(new Dictionary<string, object> { ["name"] = "U", ["role"] = "doctor" }, TimeSpan.FromHours(1))));
        Assert.Contains("role must be one string", await Refusal(Sign(new Dictionary<string, object> { ["sub"] = "u1", ["role"] = new[] { "doctor", "admin" } }, TimeSpan.FromHours(1))));
        Assert.Contains("role must be one string", await Refusal(Sign(new Dictionary<string, object> { ["sub"] = "u1", ["role"] = 7 }, TimeSpan.FromHours(1))));
        Assert.Contains("lifetime", await Refusal(Sign(new Dictionary<string, object> { ["sub"] = "u1", ["role"] = "doctor" }, TimeSpan.FromHours(48))));
        Assert.Contains("issuer", await Refusal(Sign(new Dictionary<string, object> { ["sub"] = "u1" }, TimeSpan.FromHours(1), issuer: null)));
        Assert.Contains("audience", await Refusal(Sign(new Dictionary<string, object> { ["sub"] = "u1" }, TimeSpan.FromHours(1), audience: null)));
    }

    // ---- item 13: pending structs never become revisions -----------------------------------------------------

    [Fact]
    public async Task AnUpdateOfOnlyPendingStructsIsNotStoredAndSyncingClientsNeverGetIt()
    {
        await using var node = await CollabTestNode.StartAsync();
        var doc = Ids.Unique("patient-chart:");
        await using var client = await node.ConnectAsync("pending");
        await client.JoinAsync(doc, "editor");
        var local = new YDoc(clientId: 4711);
        var updates = new List<byte[]>();
        local.UpdateProduced += (_, e) => updates.Add(e.Update);
        local.GetText("notes").Insert(0, "never ");
        local.GetText("notes").Insert(6, "delivered");

        var orphan = await client.UpdateAsync(doc, updates[1]); // its first half never arrives
        Assert.True(orphan.Success);
        Assert.Equal(0, orphan.NewRevision);

        var sync = await client.SyncAsync(doc);
        var fresh = new YDoc();
        fresh.ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
        Assert.False(fresh.HasPendingStructs); // the server hands out nothing a client cannot integrate

        var token = await node.GetTokenAsync("reader");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{doc}/history");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var history = await node.Http.SendAsync(request);
        var revisions = (await history.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revisions");
        Assert.Equal(0, revisions.GetArrayLength());
    }

    // ---- item 12: the binary's default is production; dev tokens stay on loopback -------------------------

    [Fact]
    public async Task WithoutAProfileTheNodeIsProductionAndServesNoDevTokensOrDemo()
    {
        using var rsa = RSA.Create(2048);
        var dataDir = Directory.CreateTempSubdirectory("collab-prod-").FullName;
        var port = FreePort();
        using var process = StartNode(dataDir, $"http://127.0.0.1:{port}", $"--Auth:PublicKeyPem={rsa.ExportSubjectPublicKeyInfoPem()}");
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitHealthyAsync(http, process);
            using var token = await http.PostAsJsonAsync("/dev/token", new { userId = "x", username = "x", role = "admin" });
            Assert.Equal(HttpStatusCode.NotFound, token.StatusCode);
            using var demo = await http.GetAsync("/demo?user=admin");
            Assert.NotEqual(HttpStatusCode.OK, demo.StatusCode);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task DevTokensRefuseToStartOnANetworkAddress()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-exposed-").FullName;
        await AssertRefusesToStartAsync(dataDir, $"http://0.0.0.0:{FreePort()}", "AllowDevTokensOnNetwork", "--Collab:Profile=embedded");
    }

    [Fact]
    public async Task TheTestTransportAdapterAndItsLinksEndpointRefuseToStartOutsideTheEmbeddedProfile()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-trttl-").FullName;
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var key = Path.Combine(dataDir, "idp.pem");
        await File.WriteAllTextAsync(key, rsa.ExportSubjectPublicKeyInfoPem());
        await AssertRefusesToStartAsync(dataDir, $"http://127.0.0.1:{FreePort()}", "TestTransportAdapters is for test clusters",
            $"--Auth:PublicKeyFile={key}", "--Collab:Cluster:TestTransportAdapters=true");
    }

    [Fact]
    public async Task ANodeRefusesToStartWhenItsLargestDocumentCouldNotCrossToAnotherNode()
    {
        // Remoting drops a message larger than its frame with only a log line; the node must not start that way.
        var dataDir = Directory.CreateTempSubdirectory("collab-frame-").FullName;
        await AssertRefusesToStartAsync(dataDir, $"http://127.0.0.1:{FreePort()}", "Collab:Cluster:MaximumFrameSize (128000 bytes) must be at least",
            "--Collab:Cluster:MaximumFrameSize=128000");
    }

    /// <summary>Starts a node that must refuse to start: exit code 2, <paramref name="expected"/> on stderr; removes its data dir.</summary>
    private static async Task AssertRefusesToStartAsync(string dataDir, string url, string expected, params string[] args)
    {
        using var process = StartNode(dataDir, url, args);
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Directory.Delete(dataDir, recursive: true);
    }

    private static Process StartNode(string dataDir, string url, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "CollabAkka.Node.dll"), "--urls", url, $"--Collab:DataDir={dataDir}", "--Collab:ConsoleLogs=false", .. args])
        {
            start.ArgumentList.Add(a);
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.False(process.HasExited, "the node exited while starting");
            try
            {
                using var r = await http.GetAsync("/health");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            await Task.Delay(100); // polling a process that has no other readiness signal
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
