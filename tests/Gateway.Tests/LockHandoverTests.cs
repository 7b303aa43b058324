using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Yjs;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// Issue 15 §1, the server side of "ask for the lock": lock:request, lock:request-answer and the automatic pass after
/// lockRequestTimeout (60 s for document tabs, by default) when the holder is idle. Time moves through the node's manual clock.
/// </summary>
public sealed class LockHandoverTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new();
    private CollabTestNode _node = null!;

    public async Task InitializeAsync() => _node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Clock = _clock });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static Task<HubResponse> RequestAsync(CollabTestClient client, string doc, string? reason = null) =>
        client.InvokeAsync("lock:request", reason is null ? new { resourceId = doc } : new { resourceId = doc, reason });

    private static Task<HubResponse> AnswerAsync(CollabTestClient client, string doc, string lockRequestId, string answer) =>
        client.InvokeAsync("lock:request-answer", new { resourceId = doc, lockRequestId, answer });

    private static Task<HubResponse> FocusAsync(CollabTestClient client, string doc, long clientId, long clock, string? focus) =>
        client.InvokeAsync("awareness:update", new
        {
            resourceId = doc,
            update = Convert.ToBase64String(YAwareness.Encode([new YAwarenessEntry(clientId, clock,
                JsonSerializer.Serialize(new { user = new { name = "x" }, focus }))])),
        });

    private async Task<List<StoredAuditEvent>> AuditAsync(string doc, string type) =>
        (await _node.QueryAuditAsync(new AuditQuery { ResourceId = doc, EventType = type })).ToList();

    [Fact]
    public async Task RequestPromptsTheHolderAndHandOverGivesTheRequesterANewFencingToken()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Nurse Jones", "nurse");
        var holderEditor = await SimulatedEditor.OpenAsync(alice, doc);
        var requesterEditor = await SimulatedEditor.OpenAsync(bob, doc, "viewer");
        var oldLock = (await alice.InvokeAsync("lock:heartbeat", new { resourceId = doc })).Data;
        Assert.Equal(1, oldLock.GetProperty("fencingToken").GetInt64());

        var asked = await RequestAsync(bob, doc, "  Adding the allergy found on admission ");
        Assert.True(asked.Success);
        var id = asked.Data.GetProperty("lockRequestId").GetString()!;
        Assert.Equal("Adding the allergy found on admission", asked.Data.GetProperty("reason").GetString());
        Assert.Equal("alice", asked.Data.GetProperty("holder").GetProperty("userId").GetString());
        Assert.Equal(_clock.GetUtcNow().AddSeconds(60).ToUnixTimeMilliseconds(), asked.Data.GetProperty("autoPassAt").GetDateTimeOffset().ToUnixTimeMilliseconds());
        // Asking again while waiting is the same request.
        Assert.Equal(id, (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString());

        // The holder is prompted: who asks and why.
        var prompt = (await alice.WaitForAsync("lock:requested")).GetProperty("payload");
        Assert.Equal(id, prompt.GetProperty("lockRequestId").GetString());
        Assert.Equal("Nurse Jones", prompt.GetProperty("requester").GetProperty("username").GetString());
        Assert.Equal("Adding the allergy found on admission", prompt.GetProperty("reason").GetString());
        Assert.Empty(bob.EventsNamed("lock:requested")); // only the holder is told

        // Only the holder answers; an unknown answer is refused at the edge.
        Assert.Equal("LOCK_NOT_HELD", (await AnswerAsync(bob, doc, id, "hand-over")).Error!.Code);
        Assert.Equal("VALIDATION_FAILED", (await AnswerAsync(alice, doc, id, "maybe")).Error!.Code);

        var handed = await AnswerAsync(alice, doc, id, "hand-over");
        Assert.True(handed.Success, handed.Error?.Message);
        foreach (var client in new[] { alice, bob })
        {
            var payload = (await client.WaitForAsync("lock:handed-over")).GetProperty("payload");
            Assert.Equal(id, payload.GetProperty("lockRequestId").GetString());
            Assert.Equal("alice", payload.GetProperty("from").GetProperty("userId").GetString());
            Assert.Equal("bob", payload.GetProperty("to").GetProperty("userId").GetString());
            Assert.False(payload.GetProperty("automatic").GetBoolean());
            Assert.Equal(oldLock.GetProperty("lockId").GetString(), payload.GetProperty("previousLockId").GetString());
            var lk = payload.GetProperty("lock");
            Assert.Equal(2, lk.GetProperty("fencingToken").GetInt64()); // last + 1
            Assert.NotEqual(oldLock.GetProperty("lockId").GetString(), lk.GetProperty("lockId").GetString());
            Assert.Equal("bob", lk.GetProperty("holder").GetProperty("userId").GetString());
        }
        // Presence shows the modes: bob editor, alice viewer.
        var all = await alice.WaitForAsync("resource:all_users", e =>
            e.GetProperty("triggeredBy").GetProperty("action").GetString() == "lock:request-answer");
        var users = all.GetProperty("payload").GetProperty("subResources").EnumerateArray()
            .Single(r => r.GetProperty("subResourceId").GetString() == doc).GetProperty("users").EnumerateArray()
            .ToDictionary(u => u.GetProperty("userId").GetString()!, u => u.GetProperty("mode").GetString());
        Assert.Equal("editor", users["bob"]);
        Assert.Equal("viewer", users["alice"]);

        // The requester can edit; the former holder cannot; the lock is the requester's in the store's sense too.
        Assert.True((await requesterEditor.InsertAsync("notes", 0, "Allergy: penicillin. ")).Success);
        Assert.Equal("PERMISSION_DENIED", (await holderEditor.InsertAsync("notes", 0, "late")).Error!.Code);
        Assert.Equal(2, (await bob.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64());
        Assert.Equal("LOCK_NOT_HELD", (await alice.RenewLockAsync(doc)).Error!.Code);
        // Answering again: the request is no longer pending.
        Assert.Equal("INVALID_STATE_TRANSITION", (await AnswerAsync(bob, doc, id, "decline")).Error!.Code);

        var requested = Assert.Single(await AuditAsync(doc, "LOCK_REQUESTED"));
        Assert.Equal("bob", requested.Event.UserId);
        Assert.Equal("Adding the allergy found on admission", requested.Event.Details!["reason"]!.ToString());
        var over = Assert.Single(await AuditAsync(doc, "LOCK_HANDED_OVER"));
        Assert.Equal("alice", over.Event.UserId);
        Assert.Equal("2", over.Event.Details!["fencingToken"]!.ToString());
        Assert.Equal("1", over.Event.Details!["previousFencingToken"]!.ToString());
        Assert.Equal("False", over.Event.Details!["automatic"]!.ToString(), ignoreCase: true);
    }

    [Fact]
    public async Task DeclineTellsTheRequesterAndKeepsTheLock()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Nurse Jones", "nurse");
        await using var student = await _node.ConnectAsync("student", "Student", "viewer");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");
        await student.JoinAsync(doc, "viewer");

        Assert.Equal("PERMISSION_DENIED", (await RequestAsync(student, doc)).Error!.Code); // a role that may not lock
        Assert.Equal("INVALID_STATE_TRANSITION", (await RequestAsync(alice, doc)).Error!.Code); // already the holder
        Assert.Equal("VALIDATION_FAILED", (await RequestAsync(bob, doc, new string('x', 201))).Error!.Code);
        Assert.Equal("NOT_JOINED", (await RequestAsync(bob, doc + "-other")).Error!.Code);

        var id = (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString()!;
        await alice.WaitForAsync("lock:requested");
        var declined = await AnswerAsync(alice, doc, id, "decline");
        Assert.True(declined.Success);
        Assert.Equal("declined", declined.Data.GetProperty("reason").GetString());
        foreach (var client in new[] { bob, alice })
        {
            var payload = (await client.WaitForAsync("lock:request-declined")).GetProperty("payload");
            Assert.Equal(id, payload.GetProperty("lockRequestId").GetString());
            Assert.Equal("declined", payload.GetProperty("reason").GetString());
            Assert.False(payload.GetProperty("expired").GetBoolean());
            Assert.Equal("alice", payload.GetProperty("by").GetProperty("userId").GetString());
        }
        Assert.Equal(1, (await alice.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64());
        Assert.Equal("INVALID_STATE_TRANSITION", (await AnswerAsync(alice, doc, id, "hand-over")).Error!.Code);

        // The timeout does nothing to a declined request.
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(1, (await alice.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64());
        Assert.Empty(bob.EventsNamed("lock:handed-over"));

        var audit = Assert.Single(await AuditAsync(doc, "LOCK_REQUEST_DECLINED"));
        Assert.Equal("alice", audit.Event.UserId);
        Assert.Equal("bob", audit.Event.Details!["requester"]!.ToString());
        Assert.Empty(await AuditAsync(doc, "LOCK_REQUEST_EXPIRED"));
    }

    [Fact]
    public async Task AfterTheTimeoutTheLockPassesWhenTheHolderIsIdle()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Nurse Jones", "nurse");
        var holder = await SimulatedEditor.OpenAsync(alice, doc);
        await bob.JoinAsync(doc, "viewer");
        Assert.True((await holder.InsertAsync("notes", 0, "Seen.")).Success);
        Assert.True((await FocusAsync(alice, doc, 7001, 1, "id-notes")).Success);
        Assert.True((await FocusAsync(alice, doc, 7001, 2, null)).Success); // blurred: idle from now on

        var id = (await RequestAsync(bob, doc, "Discharge letter")).Data.GetProperty("lockRequestId").GetString()!;
        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(1, (await alice.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64()); // not yet
        _clock.Advance(TimeSpan.FromSeconds(1));

        var payload = (await bob.WaitForAsync("lock:handed-over")).GetProperty("payload");
        Assert.Equal(id, payload.GetProperty("lockRequestId").GetString());
        Assert.True(payload.GetProperty("automatic").GetBoolean());
        Assert.Equal(2, payload.GetProperty("lock").GetProperty("fencingToken").GetInt64());
        Assert.Equal("bob", payload.GetProperty("to").GetProperty("userId").GetString());
        await alice.WaitForAsync("lock:handed-over");
        Assert.Equal("LOCK_NOT_HELD", (await alice.RenewLockAsync(doc)).Error!.Code);

        var expired = Assert.Single(await AuditAsync(doc, "LOCK_REQUEST_EXPIRED"));
        Assert.Equal("handed_over", expired.Event.Details!["outcome"]!.ToString());
        var over = Assert.Single(await AuditAsync(doc, "LOCK_HANDED_OVER"));
        Assert.Equal("True", over.Event.Details!["automatic"]!.ToString(), ignoreCase: true);
    }

    [Fact]
    public async Task NoAutomaticPassWhileTheHolderEditsOrHasTheFocus()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Nurse Jones", "nurse");
        var holder = await SimulatedEditor.OpenAsync(alice, doc);
        await bob.JoinAsync(doc, "viewer");

        // 1. The holder edits 10 s before the deadline (focus not shared): not idle for 60 s, the request expires.
        var first = (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString()!;
        _clock.Advance(TimeSpan.FromSeconds(50));
        Assert.True((await holder.InsertAsync("notes", 0, "Typing...")).Success);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var ended = (await bob.WaitForAsync("lock:request-declined")).GetProperty("payload");
        Assert.Equal(first, ended.GetProperty("lockRequestId").GetString());
        Assert.True(ended.GetProperty("expired").GetBoolean());
        Assert.Equal("expired", ended.GetProperty("reason").GetString());
        await alice.WaitForAsync("lock:request-declined"); // the holder's prompt goes
        Assert.Equal(1, (await alice.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64());

        // 2. The holder's focus is in the field the whole time (no edit for longer than the timeout): never idle.
        Assert.True((await FocusAsync(alice, doc, 7002, 1, "id-notes")).Success);
        _clock.Advance(TimeSpan.FromSeconds(120));
        var second = (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString()!;
        _clock.Advance(TimeSpan.FromSeconds(61));
        var again = await bob.WaitForAsync("lock:request-declined", e => e.GetProperty("payload").GetProperty("lockRequestId").GetString() == second);
        Assert.True(again.GetProperty("payload").GetProperty("expired").GetBoolean());
        Assert.Empty(bob.EventsNamed("lock:handed-over"));
        Assert.Equal(1, (await alice.RenewLockAsync(doc)).Data.GetProperty("fencingToken").GetInt64());

        var audit = await AuditAsync(doc, "LOCK_REQUEST_EXPIRED");
        Assert.Equal(2, audit.Count);
        Assert.All(audit, a => Assert.Equal("kept", a.Event.Details!["outcome"]!.ToString()));
        Assert.Empty(await AuditAsync(doc, "LOCK_HANDED_OVER"));
    }

    [Fact]
    public async Task RequestsEndWhenTheRequesterLeavesOrTheLockEnds()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Nurse Jones", "nurse");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");

        var first = (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString()!;
        await bob.LeaveAsync(doc);
        var gone = (await alice.WaitForAsync("lock:request-declined")).GetProperty("payload");
        Assert.Equal(first, gone.GetProperty("lockRequestId").GetString());
        Assert.Equal("requester_left", gone.GetProperty("reason").GetString());

        await bob.JoinAsync(doc, "viewer");
        var second = (await RequestAsync(bob, doc)).Data.GetProperty("lockRequestId").GetString()!;
        await alice.ReleaseLockAsync(doc);
        var ended = (await bob.WaitForAsync("lock:request-declined", e => e.GetProperty("payload").GetProperty("lockRequestId").GetString() == second))
            .GetProperty("payload");
        Assert.Equal("lock_ended", ended.GetProperty("reason").GetString());
        Assert.Equal("LOCK_NOT_HELD", (await RequestAsync(bob, doc)).Error!.Code); // nothing to ask for: take it
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.True((await bob.AcquireLockAsync(doc)).Success);
        Assert.Empty(bob.EventsNamed("lock:handed-over"));
        Assert.Equal(2, (await AuditAsync(doc, "LOCK_REQUEST_ENDED")).Count);
    }
}
