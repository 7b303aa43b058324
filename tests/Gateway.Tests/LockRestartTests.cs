using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

public sealed class LockRestartTests
{
    [Fact]
    public async Task ALockSurvivesANodeProcessRestartWithItsTokenAndRemainingTtlAndThenExpiresOnTime()
    {
        var dataDir = Directory.CreateTempSubdirectory("collab-restart-").FullName;
        var doc = "document:restart/tab:plan";
        try
        {
            JsonElement granted;
            long previousToken;
            await using (var first = await CollabNodeProcess.StartAsync(dataDir))
            {
                await using var alice = await first.ConnectAsync("alice", "Dr. Alice");
                // An earlier grant, so the token to keep is not simply 1.
                await alice.JoinAsync(doc, "viewer");
                previousToken = (await alice.AcquireLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64();
                await alice.ReleaseLockAsync(doc);
                // Long enough to outlive the stop and the restart on a busy machine (8 s did not, at a load of 20 on 2 cores).
                granted = (await alice.AcquireLockAsync(doc, ttlSeconds: 15)).Data;
                await first.StopAsync();
            }

            await using var second = await CollabNodeProcess.StartAsync(dataDir);
            var state = await ResourceStateAsync(second, doc);
            var held = Assert.Single(state.GetProperty("locks").EnumerateArray());
            Assert.Equal("alice", held.GetProperty("holder").GetProperty("userId").GetString());
            Assert.Equal(granted.GetProperty("lockId").GetString(), held.GetProperty("lockId").GetString());
            Assert.Equal(granted.GetProperty("fencingToken").GetInt64(), held.GetProperty("fencingToken").GetInt64());
            Assert.True(held.GetProperty("fencingToken").GetInt64() > previousToken);
            var expiresAt = granted.GetProperty("expiresAt").GetDateTimeOffset();
            Assert.Equal(expiresAt, held.GetProperty("expiresAt").GetDateTimeOffset());

            await using var bob = await second.ConnectAsync("bob");
            var joined = await bob.JoinAsync(doc, "editor");
            Assert.Equal("viewer", joined.Data.GetProperty("mode").GetString());
            Assert.Equal("alice", joined.Data.GetProperty("lockDenied").GetProperty("holder").GetProperty("userId").GetString());

            // Real time here: the restarted process's own clock must expire the lock when its TTL ends.
            var expired = await bob.WaitForAsync("lock:expired", timeout: TimeSpan.FromSeconds(30));
            var receivedAt = DateTimeOffset.UtcNow;
            Assert.True(receivedAt >= expiresAt.AddMilliseconds(-50), $"expired early: {receivedAt:O} < {expiresAt:O}");
            Assert.True(receivedAt <= expiresAt.AddSeconds(3), $"expired late: {receivedAt:O} > {expiresAt:O}");
            Assert.Equal(granted.GetProperty("lockId").GetString(), expired.GetProperty("payload").GetProperty("lockId").GetString());

            var next = await bob.AcquireLockAsync(doc);
            Assert.True(next.Data.GetProperty("fencingToken").GetInt64() > granted.GetProperty("fencingToken").GetInt64());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task<JsonElement> ResourceStateAsync(CollabNodeProcess node, string resourceId)
    {
        var token = await node.GetTokenAsync("ops", "Operator", "admin");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/resources/{resourceId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await node.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
