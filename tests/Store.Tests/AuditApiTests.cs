using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Store.Tests;

/// <summary>GET /api/audit (auditor policy, filters, keyset pages, NDJSON and CSV export), HTTP auditing and retention, on a real node.</summary>
public abstract class AuditApiTests(string store) : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private CollabTestNode _node = null!;
    private Dictionary<string, string?> _settings = null!;

    public async Task InitializeAsync()
    {
        _settings = await NodeStores.SettingsAsync(store);
        _node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Settings = _settings });
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        if (store == "postgres")
        {
            await PostgresTestServer.DropSchemaAsync(_settings["ConnectionStrings:Collab"]!, _settings["Collab:Postgres:Schema"]!);
        }
    }

    private async Task<HttpResponseMessage> GetAsync(string url, string? role = "auditor", string user = "audrey")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (role is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _node.GetTokenAsync(user, "Audrey Auditor", role));
        }
        request.Headers.UserAgent.ParseAdd("AuditTests/1.0");
        request.Headers.Add("X-Correlation-Id", "corr-" + user);
        return await _node.Http.SendAsync(request);
    }

    private async Task SeedAsync(params AuditEvent[] events) =>
        await _node.Services.GetRequiredService<IAuditStore>().AppendAsync(events, default);

    private static AuditEvent Event(string type, string user, string resource, int second, string? ua = "Mozilla/5.0") => new()
    {
        EventType = type, Timestamp = T0.AddSeconds(second), UserId = user, Username = user, Role = "doctor",
        ResourceId = resource, SessionId = "s", NodeId = "n", Ip = "10.1.2.3", UserAgent = ua, CorrelationId = $"c{second}",
        Details = new Dictionary<string, object?> { ["n"] = second },
    };

    [Fact]
    public async Task AnAuditorFiltersAndPagesTheTrailWithCursors()
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..6];
        await SeedAsync([.. Enumerable.Range(0, 7).Select(i => Event(i % 2 == 0 ? "JOIN" : "LEAVE", user, $"document:{i % 3}", i))]);

        using var first = await GetAsync($"/api/audit?userId={user}&eventType=JOIN&limit=3");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var page = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, page.GetProperty("count").GetInt32());
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["2025-03-01T08:00:00.000Z", "2025-03-01T08:00:02.000Z", "2025-03-01T08:00:04.000Z"],
            items.Select(i => i.GetProperty("timestamp").GetString()));
        Assert.All(items, i => Assert.Equal("JOIN", i.GetProperty("eventType").GetString()));
        Assert.Equal("10.1.2.3", items[0].GetProperty("ip").GetString());
        Assert.Equal(2, items[1].GetProperty("details").GetProperty("n").GetInt32());
        var cursor = page.GetProperty("nextCursor").GetString();

        using var second = await GetAsync($"/api/audit?userId={user}&eventType=JOIN&limit=3&cursor={cursor}");
        var rest = (await second.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal(["c6"], rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("correlationId").GetString()));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("nextCursor").ValueKind);

        using var range = await GetAsync($"/api/audit?userId={user}&resourceId=document:1&from=2025-03-01T08:00:01Z&to=2025-03-01T08:00:04Z");
        Assert.Equal(["c1"], (await range.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("correlationId").GetString()));
        using var byCorrelation = await GetAsync($"/api/audit?userId={user}&correlationId=c5");
        Assert.Equal(1, (await byCorrelation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task OnlyAuditorsAndAdminsMayReadTheTrailAndRefusalsAreAudited()
    {
        var doctor = "doc" + Guid.NewGuid().ToString("N")[..6];
        using var denied = await GetAsync("/api/audit", role: "doctor", user: doctor);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("PERMISSION_DENIED", (await denied.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        using var anonymous = await GetAsync("/api/audit", role: null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var admin = await GetAsync("/api/audit?limit=1", role: "admin", user: "root" + doctor);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);

        var refused = Assert.Single(await _node.QueryAuditAsync(new AuditQuery { UserId = doctor, EventType = AuditEventTypes.HttpRequest }));
        Assert.Equal(403, ((JsonElement)refused.Event.Details!["status"]!).GetInt32());
        Assert.Equal("/api/audit", ((JsonElement)refused.Event.Details["path"]!).GetString());
        Assert.Equal("corr-" + doctor, refused.Event.CorrelationId);
    }

    [Fact]
    public async Task ReadingTheTrailIsItselfAuditedWithTheFilters()
    {
        var auditor = "aud" + Guid.NewGuid().ToString("N")[..6];
        using (var r = await GetAsync("/api/audit?userId=patient-42&eventType=JOIN", user: auditor)) { Assert.Equal(HttpStatusCode.OK, r.StatusCode); }
        using (var r = await GetAsync("/api/audit?userId=patient-42&format=csv", user: auditor)) { Assert.Equal(HttpStatusCode.OK, r.StatusCode); }

        var trail = await _node.QueryAuditAsync(new AuditQuery { UserId = auditor });
        Assert.Equal([AuditEventTypes.AuditQueried, AuditEventTypes.AuditExported], trail.Select(e => e.Event.EventType));
        var queried = trail[0].Event;
        Assert.Equal("patient-42", ((JsonElement)queried.Details!["userId"]!).GetString());
        Assert.Equal("JOIN", ((JsonElement)queried.Details["eventType"]!).GetString());
        Assert.Equal("auditor", queried.Role);
        Assert.Equal("AuditTests/1.0", queried.UserAgent);
        Assert.Equal("corr-" + auditor, queried.CorrelationId);
        Assert.Equal("csv", ((JsonElement)trail[1].Event.Details!["format"]!).GetString());
    }

    [Fact]
    public async Task BadParametersAreRefusedWithValidationFailed()
    {
        using var response = await GetAsync("/api/audit?from=yesterday&limit=0&format=xml");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("VALIDATION_FAILED", problem.GetProperty("code").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("from", detail, StringComparison.Ordinal);
        Assert.Contains("limit", detail, StringComparison.Ordinal);
        Assert.Contains("format", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NdjsonExportStreamsEveryMatchingRowAcrossStorePagesInIdOrder()
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..6];
        await SeedAsync([.. Enumerable.Range(0, 4500).Select(i => Event("EDIT", user, "document:9", i))]); // > 2 store pages
        using var response = await GetAsync($"/api/audit?userId={user}&format=ndjson");
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4500, lines.Length);
        var rows = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(rows.Select(r => r.GetProperty("id").GetInt64()).Order(), rows.Select(r => r.GetProperty("id").GetInt64()));
        Assert.Equal(4499, rows[^1].GetProperty("details").GetProperty("n").GetInt32());

        using var capped = await GetAsync($"/api/audit?userId={user}&format=ndjson&limit=2001");
        Assert.Equal(2001, (await capped.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task CsvExportQuotesCommasQuotesAndLineBreaksAndOpensInASpreadsheetReader()
    {
        var user = "u" + Guid.NewGuid().ToString("N")[..6];
        string[] agents =
        [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "Agent \"with quotes\", and commas",
            "two\r\nlines\nand a bare LF",
            "=HYPERLINK(\"http://evil\",\"click\")",
            " padded ",
            "Ünïcødé 病院 🚑",
        ];
        await SeedAsync([.. agents.Select((ua, i) => Event("CONNECT", user, "document:1", i, ua))]);
        using var response = await GetAsync($"/api/audit?userId={user}&format=csv");
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("attachment", response.Content.Headers.ContentDisposition!.ToString(), StringComparison.Ordinal);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);

        var path = Path.Combine(Path.GetTempPath(), $"audit-{user}.csv");
        await File.WriteAllBytesAsync(path, bytes);
        try
        {
            // Python's csv module in its Excel dialect reads the file as a spreadsheet would.
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, ArgumentList =
            {
                "-c", "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))))", path,
            } };
            using var python = Process.Start(start)!;
            var parsed = JsonSerializer.Deserialize<string[][]>(await python.StandardOutput.ReadToEndAsync())!;
            await python.WaitForExitAsync();
            Assert.Equal(["id", "timestamp", "eventType", "userId", "username", "role", "resourceId", "sessionId", "nodeId", "ip", "userAgent", "correlationId", "details"], parsed[0]);
            Assert.Equal(agents.Length + 1, parsed.Length);
            Assert.All(parsed.Skip(1), row => Assert.Equal(13, row.Length));
            var read = parsed.Skip(1).Select(r => r[10]).ToList();
            Assert.Equal(agents[0], read[0]);
            Assert.Equal(agents[1], read[1]);
            Assert.Equal(agents[2], read[2]);
            Assert.Equal("'" + agents[3], read[3]); // a formula stays text
            Assert.Equal(agents[4], read[4]);
            Assert.Equal(agents[5], read[5]);
            Assert.Equal("{\"n\":1}", parsed[2][12]);
            Assert.Equal("2025-03-01T08:00:01.000Z", parsed[2][1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ApiCallsAreAuditedAsHttpOperations()
    {
        var user = "ops" + Guid.NewGuid().ToString("N")[..6];
        using (var r = await GetAsync("/api/capabilities", role: "doctor", user: user)) { Assert.Equal(HttpStatusCode.OK, r.StatusCode); }
        using (var r = await GetAsync("/api/resources/document:77", role: "admin", user: user)) { Assert.Equal(HttpStatusCode.OK, r.StatusCode); }
        using (var r = await GetAsync("/health", role: "doctor", user: user)) { Assert.Equal(HttpStatusCode.OK, r.StatusCode); }

        var trail = await _node.QueryAuditAsync(new AuditQuery { UserId = user, EventType = AuditEventTypes.HttpRequest });
        Assert.Equal(["/api/capabilities", "/api/resources/document:77"], trail.Select(e => ((JsonElement)e.Event.Details!["path"]!).GetString()));
        Assert.Equal("document:77", trail[1].Event.ResourceId);
        Assert.Equal("GET", ((JsonElement)trail[0].Event.Details!["method"]!).GetString());
        Assert.Equal("AuditTests/1.0", trail[0].Event.UserAgent);
    }

    [Fact]
    public async Task RetentionPurgesOnlyEventsOlderThanThePeriodAndRecordsWhatItPurged()
    {
        var user = "old" + Guid.NewGuid().ToString("N")[..6];
        var now = DateTimeOffset.UtcNow;
        var retention = _node.Services.GetRequiredService<AuditRetentionOptions>();
        Assert.Equal(TimeSpan.FromDays(3653), retention.Period);
        await SeedAsync(
            Event("ANCIENT", user, "document:1", 0) with { Timestamp = now.AddYears(-11) },
            Event("ANCIENT", user, "document:1", 0) with { Timestamp = now.AddDays(-3654) },
            Event("KEPT", user, "document:1", 0) with { Timestamp = now.AddDays(-3650) },
            Event("KEPT", user, "document:1", 0) with { Timestamp = now.AddDays(-1) });

        var result = await _node.Services.GetRequiredService<AuditRetentionService>().PurgeOnceAsync();
        Assert.True(result.Deleted >= 2, $"deleted {result.Deleted}");
        Assert.Equal(["KEPT", "KEPT"], (await _node.QueryAuditAsync(new AuditQuery { UserId = user })).Select(e => e.Event.EventType));
        var purged = (await _node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.AuditPurged })).Last().Event;
        Assert.Equal(result.Deleted, ((JsonElement)purged.Details!["deleted"]!).GetInt64());
        Assert.Equal(3653, ((JsonElement)purged.Details["retentionDays"]!).GetDouble());
    }

    [Fact]
    public async Task ReadinessShowsTheStoreAndTheAuditBufferFill()
    {
        using var response = await _node.Http.GetAsync("/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ready = await response.Content.ReadFromJsonAsync<JsonElement>();
        var checks = ready.GetProperty("checks");
        Assert.Equal("healthy", checks.GetProperty("store").GetProperty("status").GetString());
        Assert.StartsWith(store == "postgres" ? "PostgreSQL" : "SQLite", checks.GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);
        var data = checks.GetProperty("audit").GetProperty("data");
        Assert.Equal(10_000, data.GetProperty("capacity").GetInt32());
        Assert.True(data.TryGetProperty("fill", out _));
    }
}

public sealed class SqliteAuditApiTests() : AuditApiTests("sqlite");

public sealed class PostgresAuditApiTests() : AuditApiTests("postgres");
