using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Gateway.Tests;

public sealed class KillRecoveryTests
{
    [Fact]
    public async Task NoAcknowledgedUpdateOrLockGrantIsLostWhenTheNodeIsKilledRightAfterAcknowledging()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-kill-").FullName;
        var doc = "patient-chart:kill-9";
        var expected = "";
        var acknowledged = new List<long>();
        var lockDoc = "document:kill-9-locks/tab:plan";
        long? grantedToken = null;
        try
        {
            for (var round = 0; round < 20; round++)
            {
                await using var node = await CollabNodeProcess.StartAsync(dataDir);
                // The same clinician each time: the lock restored after the crash is theirs again on rejoin.
                var editor = await SimulatedEditor.OpenAsync(await node.ConnectAsync("typist"), doc);
                Assert.Equal(expected, editor.Doc.GetText("notes").ToString()); // everything acknowledged before is here

                // The lock granted (and acknowledged) before the last kill is still held, with its token; the next
                // grant after releasing it takes a larger token (none is ever handed out twice).
                var locker = await node.ConnectAsync("locker");
                var rejoined = await locker.JoinAsync(lockDoc, "editor");
                Assert.True(rejoined.Success, rejoined.Error?.Message);
                var held = rejoined.Data.GetProperty("lock");
                if (grantedToken is { } previous)
                {
                    Assert.Equal(previous, held.GetProperty("fencingToken").GetInt64());
                    Assert.True((await locker.ReleaseLockAsync(lockDoc)).Success);
                    var regranted = await locker.AcquireLockAsync(lockDoc);
                    Assert.True(regranted.Success, regranted.Error?.Message);
                    Assert.True(regranted.Data.GetProperty("fencingToken").GetInt64() > previous);
                    grantedToken = regranted.Data.GetProperty("fencingToken").GetInt64();
                }
                else
                {
                    grantedToken = held.GetProperty("fencingToken").GetInt64();
                }

                // A burst of edits sent without waiting for each other, then kill -9 the moment the last is acknowledged.
                var sends = new List<Task<HubResponse>>();
                for (var i = 0; i < 10; i++)
                {
                    var piece = $"r{round}e{i};";
                    sends.Add(editor.InsertAsync("notes", editor.Doc.GetText("notes").Length, piece));
                }
                var acks = await Task.WhenAll(sends);
                Assert.All(acks, a => Assert.True(a.Success, a.Error?.Message));
                await node.KillAsync();
                expected = editor.Doc.GetText("notes").ToString();
                acknowledged.AddRange(editor.Acknowledged);
            }
            await using var last = await CollabNodeProcess.StartAsync(dataDir);
            await using var reader = await last.ConnectAsync("reader");
            await reader.JoinAsync(doc, "viewer");
            var fresh = new YDoc();
            fresh.ApplyUpdate(Convert.FromBase64String((await reader.SyncAsync(doc)).Data.GetProperty("update").GetString()!));
            Assert.Equal(expected, fresh.GetText("notes").ToString());
            Assert.Equal(200, expected.Split(';', StringSplitOptions.RemoveEmptyEntries).Length);

            // Every acknowledged edit has its EDIT audit record too: acknowledgements wait for both.
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/audit?resourceId={doc}&eventType=EDIT&limit=1000");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                await last.GetTokenAsync("auditor-1", "Auditor", "auditor"));
            using var response = await last.Http.SendAsync(request);
            var audit = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.JsonElement>(response.Content);
            var revisions = audit.GetProperty("items").EnumerateArray()
                .Select(e => e.GetProperty("details").GetProperty("revision").GetInt64()).ToHashSet();
            Assert.Equal(200, acknowledged.Count);
            Assert.All(acknowledged, r => Assert.Contains(r, revisions));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
