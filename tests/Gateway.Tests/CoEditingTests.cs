using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Gateway.Tests;

public sealed class CoEditingTests : IAsyncLifetime
{
    private CollabTestNode _node = null!;

    public async Task InitializeAsync() => _node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
    {
        Settings = { ["Collab:Documents:MaxUpdateBytes"] = "4096", ["Collab:Documents:SnapshotEvery"] = "3" },
    });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    internal static async Task<JsonElement> ContentAsync(Uri baseUrl, HttpClient http, Func<string, string, string, Task<string>> token, string resourceId, long? revision = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{resourceId}/content{(revision is null ? "" : $"?revision={revision}")}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await token("auditor-1", "Auditor", "auditor"));
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<JsonElement> ContentAsync(string resourceId, long? revision = null) =>
        ContentAsync(_node.BaseUrl, _node.Http, _node.GetTokenAsync, resourceId, revision);

    private static byte[] TextUpdate(string field, string text)
    {
        var doc = new YDoc();
        byte[]? update = null;
        doc.UpdateProduced += (_, e) => update = e.Update;
        doc.GetText(field).Insert(0, text);
        return update!;
    }

    [Fact]
    public async Task AnEditorsUpdateIsAcknowledgedWithTheNewRevisionAndBroadcastToOthers()
    {
        var doc = Ids.Unique("patient-chart:");
        var a = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("a"), doc);
        var b = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("b"), doc);
        await using var _ = a.Client;
        await using var __ = b.Client;

        var ack = await a.InsertAsync("notes", 0, "BP 120/80");
        Assert.True(ack.Success);
        Assert.Equal(1, ack.NewRevision);
        await b.ApplyRemoteAsync(1);
        Assert.Equal("BP 120/80", b.Doc.GetText("notes").ToString());
        Assert.Empty(a.Client.EventsNamed("doc:update")); // not echoed to the sender
        Assert.Equal("BP 120/80", (await ContentAsync(doc)).GetProperty("content").GetProperty("notes").GetString());
    }

    [Fact]
    public async Task ViewersWrongRolesMalformedAndOversizeUpdatesAreRefusedAndTheDocumentIsUnchanged()
    {
        var doc = Ids.Unique("prescription:");
        var editor = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("prescriber"), doc);
        await using var _ = editor.Client;
        await editor.InsertAsync("dose", 0, "5 mg");
        await using var viewer = await _node.ConnectAsync("watcher", role: "doctor");
        await using var nurse = await _node.ConnectAsync("nurse-1", role: "nurse");
        Assert.Equal("viewer", (await viewer.JoinAsync(doc, "viewer")).Data.GetProperty("mode").GetString());
        Assert.Equal("viewer", (await nurse.JoinAsync(doc, "editor")).Data.GetProperty("mode").GetString()); // nurses may not edit prescriptions

        Assert.Equal("PERMISSION_DENIED", (await viewer.UpdateAsync(doc, TextUpdate("dose", "50 mg"))).Error!.Code);
        Assert.Equal("PERMISSION_DENIED", (await nurse.UpdateAsync(doc, TextUpdate("dose", "500 mg"))).Error!.Code);
        Assert.Equal("INVALID_UPDATE", (await editor.Client.UpdateAsync(doc, [0x01, 0xff, 0xff, 0xff, 0x7f, 0x09])).Error!.Code);
        Assert.Equal("INVALID_UPDATE", (await editor.Client.InvokeAsync("doc:update", new { resourceId = doc, update = "%%not base64%%" })).Error!.Code);
        var oversize = await editor.Client.UpdateAsync(doc, TextUpdate("dose", new string('x', 8000)));
        Assert.Equal("PAYLOAD_TOO_LARGE", oversize.Error!.Code);
        Assert.Contains("Collab:Documents:MaxUpdateBytes", oversize.Error.Message);

        Assert.True((await editor.Client.HeartbeatAsync()).Success);
        Assert.True((await viewer.HeartbeatAsync()).Success);
        var content = await ContentAsync(doc);
        Assert.Equal("5 mg", content.GetProperty("content").GetProperty("dose").GetString());
        Assert.Equal(1, content.GetProperty("revision").GetInt64());
    }

    [Fact]
    public async Task OutOfOrderAndDuplicateUpdatesAreFine()
    {
        var doc = Ids.Unique("patient-chart:");
        await using var client = await _node.ConnectAsync("ooo");
        await client.JoinAsync(doc, "editor");
        var local = new YDoc();
        var updates = new List<byte[]>();
        local.UpdateProduced += (_, e) => updates.Add(e.Update);
        local.GetText("notes").Insert(0, "first ");
        local.GetText("notes").Insert(6, "second");

        var early = await client.UpdateAsync(doc, updates[1]); // depends on the first: waits pending, in memory only
        Assert.True(early.Success);
        Assert.Equal(0, early.NewRevision); // not a revision: it cannot be integrated yet (issue 12 item 13)
        var first = await client.UpdateAsync(doc, updates[0]);
        Assert.True(first.Success);
        Assert.Equal(1, first.NewRevision); // one revision holding both: what was integrated
        var duplicate = await client.UpdateAsync(doc, updates[0]);
        Assert.True(duplicate.Success);
        Assert.Equal(1, duplicate.NewRevision); // nothing new: no new revision
        Assert.Equal("first second", (await ContentAsync(doc)).GetProperty("content").GetProperty("notes").GetString());
    }

    [Fact]
    public async Task AStaleFormSaveGetsStaleRevisionWithTheCurrentState()
    {
        var doc = Ids.Unique("document:") + "/tab:discharge";
        var a = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("saver"), doc);
        await using var _ = a.Client;
        await using var watcher = await _node.ConnectAsync("form-watcher");
        await watcher.JoinAsync(doc, "viewer");

        var saved = await a.Client.SaveFieldAsync(doc, "summary", "Discharged home", 0);
        Assert.True(saved.Success);
        Assert.Equal(1, saved.NewRevision);
        var seen = await watcher.WaitForAsync("doc:update");
        Assert.Equal("resource:update", seen.GetProperty("triggeredBy").GetProperty("action").GetString());

        var edited = await a.Client.SaveFieldAsync(doc, "summary", "Discharged home with follow-up", 1);
        Assert.Equal(2, edited.NewRevision);
        var stale = await a.Client.SaveFieldAsync(doc, "summary", "Overwrite from an old form", 1);
        Assert.Equal("STALE_REVISION", stale.Error!.Code);
        Assert.Equal(2, stale.Error.Details.GetProperty("currentRevision").GetInt64());
        Assert.Equal("Discharged home with follow-up", stale.Error.Details.GetProperty("state").GetProperty("summary").GetString());

        Assert.True((await a.Client.SaveFieldAsync(doc, "vitals.pulse", 72, 2)).Success);
        var content = (await ContentAsync(doc)).GetProperty("content");
        Assert.Equal("Discharged home with follow-up", content.GetProperty("summary").GetString());
        Assert.Equal(72, content.GetProperty("vitals").GetProperty("pulse").GetInt32());
    }

    [Fact]
    public async Task ContentAtARevisionShowsTheDocumentAsItWasThenAndHistoryListsRevisions()
    {
        var doc = Ids.Unique("patient-chart:");
        var editor = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("historian", "Dr. History"), doc);
        await using var _ = editor.Client;
        string[] steps = ["Fever. ", "Cough. ", "Started antibiotics. ", "Improving. ", "Discharged."];
        var expected = new List<string>();
        var text = "";
        foreach (var step in steps)
        {
            Assert.True((await editor.InsertAsync("notes", text.Length, step)).Success);
            text += step;
            expected.Add(text);
        }
        for (var revision = 1; revision <= steps.Length; revision++)
        {
            var content = await ContentAsync(doc, revision); // SnapshotEvery=3: 1-2 from the log, 3+ from a snapshot and the log
            Assert.Equal(revision, content.GetProperty("revision").GetInt64());
            Assert.Equal(expected[revision - 1], content.GetProperty("content").GetProperty("notes").GetString());
        }
        Assert.Equal(text, (await ContentAsync(doc)).GetProperty("content").GetProperty("notes").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{doc}/history?limit=3");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _node.GetTokenAsync("auditor-1", "Auditor", "auditor"));
        using var response = await _node.Http.SendAsync(request);
        var history = await response.Content.ReadFromJsonAsync<JsonElement>();
        var revisions = history.GetProperty("revisions").EnumerateArray().ToList();
        Assert.Equal([1L, 2L, 3L], revisions.Select(r => r.GetProperty("revision").GetInt64()));
        Assert.All(revisions, r => Assert.Equal("historian", r.GetProperty("userId").GetString()));
        Assert.Equal(3, history.GetProperty("next").GetInt64());

        using var denied = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{doc}/content");
        denied.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _node.GetTokenAsync("visitor", "Visitor", "viewer"));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await _node.Http.SendAsync(denied)).StatusCode);
        var reads = await _node.QueryAuditAsync(new AuditQuery { ResourceId = doc, EventType = "HISTORY_READ", Limit = 100 });
        Assert.True(reads.Count >= steps.Length + 2);
    }

    [Fact]
    public async Task ANewcomerReceivesTheCurrentAwarenessOfEveryoneAlreadyThere()
    {
        var doc = Ids.Unique("patient-chart:");
        await using var a = await _node.ConnectAsync("aware-a");
        await a.JoinAsync(doc, "editor");
        var state = YAwareness.Encode([new YAwarenessEntry(4242, 3, "{\"user\":{\"name\":\"A\"},\"focus\":\"notes\"}")]);
        Assert.True((await a.InvokeAsync("awareness:update", new { resourceId = doc, update = Convert.ToBase64String(state) })).Success);
        var garbage = await a.InvokeAsync("awareness:update", new { resourceId = doc, update = Convert.ToBase64String([5, 1]) });
        Assert.Equal("INVALID_UPDATE", garbage.Error!.Code);

        await using var b = await _node.ConnectAsync("aware-b");
        await b.JoinAsync(doc, "viewer");
        var snapshot = await b.WaitForAsync("awareness:update");
        var entry = Assert.Single(YAwareness.Decode(Convert.FromBase64String(snapshot.GetProperty("payload").GetProperty("update").GetString()!)));
        Assert.Equal(4242, entry.ClientId);
        Assert.Equal(3, entry.Clock);
        Assert.Contains("notes", entry.StateJson);

        // B cannot clear A's state by speaking for A's client id: not stored, not relayed.
        var spoof = YAwareness.Encode([new YAwarenessEntry(4242, 4, "null")]);
        await b.InvokeAsync("awareness:update", new { resourceId = doc, update = Convert.ToBase64String(spoof) });
        Assert.True((await a.HeartbeatAsync()).Success); // anything relayed to A would have arrived before this answer
        Assert.Empty(a.EventsNamed("awareness:update"));
        await using var c = await _node.ConnectAsync("aware-c");
        await c.JoinAsync(doc, "viewer");
        var still = await c.WaitForAsync("awareness:update");
        Assert.Equal(4242, Assert.Single(YAwareness.Decode(Convert.FromBase64String(still.GetProperty("payload").GetProperty("update").GetString()!))).ClientId);
    }

    [Fact]
    public async Task EveryAcceptedUpdateIsAuditedWithFieldsAndSizeButNoContent()
    {
        var doc = Ids.Unique("patient-chart:");
        var editor = await SimulatedEditor.OpenAsync(await _node.ConnectAsync("audited-editor"), doc);
        await using var _ = editor.Client;
        await editor.InsertAsync("allergies", 0, "Penicillin");
        var edits = await _node.QueryAuditAsync(new AuditQuery { ResourceId = doc, EventType = "EDIT" });
        var edit = Assert.Single(edits).Event;
        Assert.Equal("audited-editor", edit.UserId);
        Assert.Equal("1", edit.Details!["revision"]!.ToString());
        Assert.Contains("allergies", edit.Details["fields"]!.ToString());
        Assert.True(int.Parse(edit.Details["bytes"]!.ToString()!) > 10);
        Assert.DoesNotContain("Penicillin", JsonSerializer.Serialize(edit));
    }

    [Fact]
    public async Task AfterARestartTheFirstJoinSeesTheWholeDocument()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-doc-restart-").FullName;
        try
        {
            var doc = "patient-chart:restart-1";
            await using (var first = await CollabTestNode.StartAsync(new CollabTestNodeOptions { DataDir = dataDir }))
            {
                var editor = await SimulatedEditor.OpenAsync(await first.ConnectAsync("before"), doc);
                for (var i = 0; i < 7; i++)
                {
                    Assert.True((await editor.InsertAsync("notes", i, i.ToString())).Success);
                }
                await editor.Client.DisposeAsync();
            }
            await using var second = await CollabTestNode.StartAsync(new CollabTestNodeOptions { DataDir = dataDir });
            await using var client = await second.ConnectAsync("after");
            var joined = await client.JoinAsync(doc, "viewer");
            Assert.Equal(7, joined.Data.GetProperty("revision").GetInt64());
            var sync = await client.SyncAsync(doc);
            var fresh = new YDoc();
            fresh.ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
            Assert.Equal("0123456", fresh.GetText("notes").ToString());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
