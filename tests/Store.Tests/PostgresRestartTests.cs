using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Store.Tests;

/// <summary>
/// Node processes on PostgreSQL, stopped with SIGTERM or killed with SIGKILL and started again on the same
/// schema: no acknowledged update and no audit event the node had made durable is lost; a clean stop flushes
/// the audit buffer first.
/// </summary>
public sealed class PostgresRestartTests
{
    private static async Task<string[]> ArgsAsync(string schema) =>
    [
        "--Collab:Store=postgres",
        $"--ConnectionStrings:Collab={await PostgresTestServer.SharedConnectionStringAsync()}",
        $"--Collab:Postgres:Schema={schema}",
    ];

    [Fact]
    public async Task ACleanStopWritesEveryBufferedAuditEventBeforeExiting()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-pg-stop-").FullName;
        var schema = PostgresTestServer.CreateSchemaName();
        try
        {
            await using (var node = await CollabNodeProcess.StartAsync(dataDir, null, await ArgsAsync(schema)))
            {
                for (var i = 0; i < 5; i++)
                {
                    await using var client = await node.ConnectAsync($"stop-user{i}");
                    var editor = await SimulatedEditor.OpenAsync(client, $"document:stop/tab:t{i}");
                    Assert.True((await editor.InsertAsync("note", 0, "hello")).Success);
                }
                for (var k = 0; k < 50; k++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "/api/capabilities");
                    request.Headers.Add("X-Correlation-Id", $"stop-{k}");
                    using var _ = await node.Http.SendAsync(request);
                }
                await node.StopAsync(); // SIGTERM right away: whatever still waits in the buffer is flushed on the way out
            }
            await using var again = await CollabNodeProcess.StartAsync(dataDir, null, await ArgsAsync(schema));
            var trail = await ExportAsync(again);
            var correlations = trail.Select(e => e.GetProperty("correlationId").GetString()).ToHashSet();
            Assert.All(Enumerable.Range(0, 50), k => Assert.Contains($"stop-{k}", correlations));
            for (var i = 0; i < 5; i++)
            {
                var mine = trail.Where(e => e.GetProperty("userId").GetString() == $"stop-user{i}").Select(e => e.GetProperty("eventType").GetString()).ToList();
                Assert.Contains("CONNECT", mine);
                Assert.Contains("JOIN", mine);
                Assert.Contains("LOCK_ACQUIRED", mine);
                Assert.Contains("EDIT", mine);
                Assert.Contains("DISCONNECT", mine);
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
            await PostgresTestServer.DropSchemaAsync(await PostgresTestServer.SharedConnectionStringAsync(), schema);
        }
    }

    [Fact]
    public async Task AKillNineLosesNoAcknowledgedUpdateAndNoDurableAuditEvent()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-pg-kill-").FullName;
        var schema = PostgresTestServer.CreateSchemaName();
        var doc = "patient-chart:pg-kill";
        var expected = "";
        var durableEdits = 0;
        try
        {
            for (var round = 0; round < 5; round++)
            {
                await using var node = await CollabNodeProcess.StartAsync(dataDir, null, await ArgsAsync(schema));
                var editor = await SimulatedEditor.OpenAsync(await node.ConnectAsync("typist"), doc);
                Assert.Equal(expected, editor.Doc.GetText("notes").ToString());
                var sends = new List<Task<HubResponse>>();
                for (var i = 0; i < 10; i++)
                {
                    sends.Add(editor.InsertAsync("notes", editor.Doc.GetText("notes").Length, $"r{round}e{i};"));
                }
                var acks = await Task.WhenAll(sends);
                Assert.All(acks, a => Assert.True(a.Success, a.Error?.Message));
                expected = editor.Doc.GetText("notes").ToString();
                // The audit trail is durable once /ready reports nothing pending; then the process dies without warning.
                await WaitForAuditDrainedAsync(node);
                durableEdits += 10;
                await node.KillAsync();
            }
            await using var last = await CollabNodeProcess.StartAsync(dataDir, null, await ArgsAsync(schema));
            await using var reader = await last.ConnectAsync("reader");
            await reader.JoinAsync(doc, "viewer");
            var fresh = new YDoc();
            fresh.ApplyUpdate(Convert.FromBase64String((await reader.SyncAsync(doc)).Data.GetProperty("update").GetString()!));
            Assert.Equal(expected, fresh.GetText("notes").ToString());

            var trail = await ExportAsync(last);
            var edits = trail.Where(e => e.GetProperty("eventType").GetString() == "EDIT" && e.GetProperty("resourceId").GetString() == doc).ToList();
            Assert.Equal(durableEdits, edits.Count);
            Assert.Equal(durableEdits, edits.Select(e => e.GetProperty("details").GetProperty("revision").GetInt64()).Distinct().Count());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
            await PostgresTestServer.DropSchemaAsync(await PostgresTestServer.SharedConnectionStringAsync(), schema);
        }
    }

    private static async Task WaitForAuditDrainedAsync(CollabNodeProcess node)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await node.Http.GetAsync("/ready");
            var ready = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (ready.GetProperty("checks").GetProperty("audit").GetProperty("data").GetProperty("pending").GetInt32() == 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, "the audit buffer did not drain");
            await Task.Delay(20); // polling another process's buffer: no event to await across processes
        }
    }

    private static async Task<List<JsonElement>> ExportAsync(CollabNodeProcess node)
    {
        var token = await node.GetTokenAsync("auditor", "Auditor", "auditor");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/audit?format=ndjson");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await node.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return [.. (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
    }
}
