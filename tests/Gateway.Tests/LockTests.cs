using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

/// <summary>Editor locks over real hub connections; time moves through the node's manual clock.</summary>
public sealed class LockTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _clock = new();
    private CollabTestNode _node = null!;

    public async Task InitializeAsync() => _node = await CollabTestNode.StartAsync(new CollabTestNodeOptions { Clock = _clock });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static string Token(JsonElement lockView) => lockView.GetProperty("fencingToken").GetInt64().ToString();

    [Fact]
    public async Task JoiningAsEditorAcquiresTheLock()
    {
        var doc = Ids.Unique("document:") + "/tab:diagnosis";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Alice");

        var joined = await alice.JoinAsync(doc, "editor");

        Assert.Equal("editor", joined.Data.GetProperty("mode").GetString());
        var lk = joined.Data.GetProperty("lock");
        Assert.Equal("alice", lk.GetProperty("holder").GetProperty("userId").GetString());
        Assert.Equal(1, lk.GetProperty("fencingToken").GetInt64());
        Assert.Equal(_clock.GetUtcNow().AddSeconds(300).ToUnixTimeMilliseconds(), lk.GetProperty("expiresAt").GetDateTimeOffset().ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task ASecondEditorJoinsAsViewerAndIsToldWhoHoldsTheLockUntilWhen()
    {
        var doc = Ids.Unique("document:") + "/tab:notes";
        await using var alice = await _node.ConnectAsync("alice", "Dr. Smith");
        await using var bob = await _node.ConnectAsync("bob", "Dr. Jones");
        var first = await alice.JoinAsync(doc, "editor");

        var second = await bob.JoinAsync(doc, "editor");

        Assert.True(second.Success);
        Assert.Equal("viewer", second.Data.GetProperty("mode").GetString());
        var denied = second.Data.GetProperty("lockDenied");
        Assert.Equal("LOCK_HELD", denied.GetProperty("code").GetString());
        Assert.Equal("Dr. Smith", denied.GetProperty("holder").GetProperty("username").GetString());
        Assert.Equal(first.Data.GetProperty("lock").GetProperty("expiresAt").GetDateTimeOffset(), denied.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.StartsWith("Locked by Dr. Smith until", second.Data.GetProperty("modeReason").GetString());
        Assert.Single(second.Data.GetProperty("locks").EnumerateArray());
    }

    [Fact]
    public async Task ExplicitAcquireDenyReleaseAndNotHeld()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice", "Dr. Alice");
        await using var bob = await _node.ConnectAsync("bob", "Dr. Bob");
        await alice.JoinAsync(doc, "viewer");
        await bob.JoinAsync(doc, "viewer");

        var granted = await alice.AcquireLockAsync(doc);
        Assert.True(granted.Success);
        var acquired = await bob.WaitForAsync("lock:acquired");
        Assert.Equal("alice", acquired.GetProperty("payload").GetProperty("holder").GetProperty("userId").GetString());
        var state = await bob.WaitForAsync("state:changed");
        Assert.Equal("LOCKED", state.GetProperty("payload").GetProperty("state").GetString());

        var denied = await bob.AcquireLockAsync(doc);
        Assert.Equal("LOCK_HELD", denied.Error!.Code);
        Assert.Equal("alice", denied.Error.Details.GetProperty("holder").GetProperty("userId").GetString());
        Assert.Equal(granted.Data.GetProperty("expiresAt").GetDateTimeOffset(), denied.Error.Details.GetProperty("expiresAt").GetDateTimeOffset());

        Assert.Equal("LOCK_NOT_HELD", (await bob.ReleaseLockAsync(doc)).Error!.Code);
        Assert.True((await alice.ReleaseLockAsync(doc)).Success);
        var released = await bob.WaitForAsync("lock:released");
        Assert.Equal("released", released.GetProperty("payload").GetProperty("reason").GetString());
        Assert.Equal("lock:release", released.GetProperty("triggeredBy").GetProperty("action").GetString());
        Assert.Equal("AVAILABLE", (await bob.WaitForAsync("state:changed")).GetProperty("payload").GetProperty("state").GetString());

        var next = await bob.AcquireLockAsync(doc);
        Assert.True(next.Success);
        Assert.True(next.Data.GetProperty("fencingToken").GetInt64() > granted.Data.GetProperty("fencingToken").GetInt64());
    }

    [Fact]
    public async Task AcquireWithoutJoiningIsNotJoinedAndARoleWithoutCanLockIsPermissionDenied()
    {
        var doc = Ids.Unique("document:");
        await using var visitor = await _node.ConnectAsync("visitor", role: "viewer");
        Assert.Equal("NOT_JOINED", (await visitor.AcquireLockAsync(doc)).Error!.Code);
        await visitor.JoinAsync(doc, "viewer");
        Assert.Equal("PERMISSION_DENIED", (await visitor.AcquireLockAsync(doc)).Error!.Code);
        Assert.Equal("VALIDATION_FAILED", (await (await _node.ConnectAsync("d1")).AcquireLockAsync("bad id")).Error!.Code);
    }

    [Fact]
    public async Task HeartbeatRenewsTheLockAndAnswersWithTheNewExpiry()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        var joined = await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");
        var firstExpiry = joined.Data.GetProperty("lock").GetProperty("expiresAt").GetDateTimeOffset();

        _clock.Advance(TimeSpan.FromSeconds(200));
        var renewed = await alice.RenewLockAsync(doc);
        Assert.True(renewed.Success);
        Assert.Equal(_clock.GetUtcNow().AddSeconds(300).ToUnixTimeMilliseconds(), renewed.Data.GetProperty("expiresAt").GetDateTimeOffset().ToUnixTimeMilliseconds());
        var broadcast = await bob.WaitForAsync("lock:renewed");
        Assert.Equal(renewed.Data.GetProperty("expiresAt").GetDateTimeOffset(), broadcast.GetProperty("payload").GetProperty("expiresAt").GetDateTimeOffset());

        _clock.Advance(TimeSpan.FromSeconds(200)); // past the first expiry, within the renewed one
        Assert.True(_clock.GetUtcNow() > firstExpiry);
        Assert.Equal("LOCK_HELD", (await bob.AcquireLockAsync(doc)).Error!.Code);
        Assert.Empty(bob.EventsNamed("lock:expired"));
        Assert.Equal("LOCK_NOT_HELD", (await bob.RenewLockAsync(doc)).Error!.Code);
    }

    [Fact]
    public async Task AnUnrenewedLockExpiresAndEveryoneIsTold()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");

        _clock.Advance(TimeSpan.FromSeconds(301));

        foreach (var client in new[] { alice, bob })
        {
            var expired = await client.WaitForAsync("lock:expired");
            Assert.Equal("alice", expired.GetProperty("payload").GetProperty("holder").GetProperty("userId").GetString());
            Assert.Equal("expired", expired.GetProperty("payload").GetProperty("reason").GetString());
        }
        Assert.Equal("AVAILABLE", (await bob.WaitForAsync("state:changed", e => e.GetProperty("payload").GetProperty("state").GetString() == "AVAILABLE"))
            .GetProperty("payload").GetProperty("state").GetString());
        Assert.True((await bob.AcquireLockAsync(doc)).Success);
    }

    [Fact]
    public async Task AShorterTtlMayBeAskedForButNotUnderFiveSeconds()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice");
        await alice.JoinAsync(doc, "viewer");
        Assert.Equal("VALIDATION_FAILED", (await alice.AcquireLockAsync(doc, 2)).Error!.Code);
        var granted = await alice.AcquireLockAsync(doc, 20);
        Assert.Equal(20, granted.Data.GetProperty("ttlSeconds").GetDouble());
        _clock.Advance(TimeSpan.FromSeconds(21));
        await alice.WaitForAsync("lock:expired");
    }

    [Fact]
    public async Task AHolderWhoReconnectsWithinTheGracePeriodKeepsTheSameLock()
    {
        var doc = Ids.Unique("document:") + "/tab:a";
        var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        var first = (await alice.JoinAsync(doc, "editor")).Data.GetProperty("lock");
        await bob.JoinAsync(doc, "viewer");

        await alice.DisposeAsync(); // the tab's connection drops
        await bob.WaitForAsync("user:left");
        _clock.Advance(TimeSpan.FromSeconds(20)); // within the 30 s grace period
        Assert.Equal("LOCK_HELD", (await bob.AcquireLockAsync(doc)).Error!.Code);

        await using var again = await _node.ConnectAsync("alice");
        var rejoined = await again.JoinAsync(doc, "editor");
        Assert.Equal("editor", rejoined.Data.GetProperty("mode").GetString());
        var second = rejoined.Data.GetProperty("lock");
        Assert.Equal(first.GetProperty("lockId").GetString(), second.GetProperty("lockId").GetString());
        Assert.Equal(Token(first), Token(second));

        _clock.Advance(TimeSpan.FromSeconds(20)); // the grace period would have ended by now
        Assert.Empty(bob.EventsNamed("lock:released"));
        Assert.True((await again.RenewLockAsync(doc)).Success);
    }

    [Fact]
    public async Task AHolderWhoDoesNotReturnWithinTheGracePeriodLosesTheLock()
    {
        var doc = Ids.Unique("document:") + "/tab:a";
        var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");

        await alice.DisposeAsync();
        await bob.WaitForAsync("user:left");
        _clock.Advance(TimeSpan.FromSeconds(31));

        var released = await bob.WaitForAsync("lock:released");
        Assert.Equal("user_disconnected", released.GetProperty("payload").GetProperty("reason").GetString());
        Assert.True((await bob.AcquireLockAsync(doc)).Success);
    }

    [Fact]
    public async Task LeavingReleasesTheLockAtOnce()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");
        await alice.LeaveAsync(doc);
        Assert.Equal("left", (await bob.WaitForAsync("lock:released")).GetProperty("payload").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task OneUserHoldsAtMostOneLockPerResourceAcrossTabs()
    {
        var doc = Ids.Unique("document:") + "/tab:x";
        await using var tab1 = await _node.ConnectAsync("alice");
        await using var tab2 = await _node.ConnectAsync("alice");
        Assert.Equal("editor", (await tab1.JoinAsync(doc, "editor")).Data.GetProperty("mode").GetString());

        var second = await tab2.JoinAsync(doc, "editor");
        Assert.Equal("viewer", second.Data.GetProperty("mode").GetString());
        Assert.Contains("another tab", second.Data.GetProperty("modeReason").GetString());
        Assert.Equal("LOCK_HELD", (await tab2.AcquireLockAsync(doc)).Error!.Code);
    }

    [Fact]
    public async Task ParentAndChildLocksConflictAndSiblingsDoNot()
    {
        var root = Ids.Unique("document:");
        await using var a = await _node.ConnectAsync("a");
        await using var b = await _node.ConnectAsync("b");
        await using var c = await _node.ConnectAsync("c");

        Assert.Equal("editor", (await a.JoinAsync($"{root}/tab:one", "editor")).Data.GetProperty("mode").GetString());
        Assert.Equal("editor", (await b.JoinAsync($"{root}/tab:two", "editor")).Data.GetProperty("mode").GetString());
        var parent = await c.JoinAsync(root, "editor");
        Assert.Equal("viewer", parent.Data.GetProperty("mode").GetString());
        Assert.Equal("LOCK_HELD", parent.Data.GetProperty("lockDenied").GetProperty("code").GetString());

        await a.LeaveAsync($"{root}/tab:one");
        await b.LeaveAsync($"{root}/tab:two");
        Assert.True((await c.AcquireLockAsync(root)).Success);
        var child = await a.JoinAsync($"{root}/tab:one", "editor");
        Assert.Equal("viewer", child.Data.GetProperty("mode").GetString());
        Assert.Equal("c", child.Data.GetProperty("lockDenied").GetProperty("holder").GetProperty("userId").GetString());
    }

    [Fact]
    public async Task ForceReleaseIsAllowedForAdminsAuditedWithTheReasonAndRefusedForOthers()
    {
        var doc = Ids.Unique("document:");
        await using var holder = await _node.ConnectAsync("holder", "Dr. Holder");
        await using var doctor = await _node.ConnectAsync("other-doctor", role: "doctor");
        await using var admin = await _node.ConnectAsync("admin-1", "Admin", "admin");
        await holder.JoinAsync(doc, "editor");
        await doctor.JoinAsync(doc, "viewer");

        Assert.Equal("PERMISSION_DENIED", (await doctor.ForceReleaseLockAsync(doc, "I need it")).Error!.Code);
        Assert.Equal("VALIDATION_FAILED", (await admin.ForceReleaseLockAsync(doc, " ")).Error!.Code);
        var forced = await admin.ForceReleaseLockAsync(doc, "Holder went home; patient discharge waiting");
        Assert.True(forced.Success);

        foreach (var client in new[] { holder, doctor })
        {
            var released = (await client.WaitForAsync("lock:released")).GetProperty("payload");
            Assert.Equal("force_released", released.GetProperty("reason").GetString());
            Assert.Equal("admin-1", released.GetProperty("releasedBy").GetProperty("userId").GetString());
            Assert.Equal("Holder went home; patient discharge waiting", released.GetProperty("comment").GetString());
        }
        var audit = await _node.QueryAuditAsync(new AuditQuery { ResourceId = doc, EventType = "LOCK_FORCE_RELEASED" });
        var record = Assert.Single(audit);
        Assert.Equal("admin-1", record.Event.UserId);
        Assert.Equal("Holder went home; patient discharge waiting", record.Event.Details!["comment"]!.ToString());
        Assert.Equal("holder", record.Event.Details!["holder"]!.ToString());
        Assert.Equal("LOCK_NOT_HELD", (await admin.ForceReleaseLockAsync(doc, "again")).Error!.Code);
    }

    [Fact]
    public async Task PatientChartAdmitsThreeEditorsAndRefusesAFourth()
    {
        var chart = Ids.Unique("patient-chart:");
        var editors = new List<CollabTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var c = await _node.ConnectAsync($"clinician{i}");
                editors.Add(c);
                Assert.Equal("editor", (await c.JoinAsync(chart, "editor")).Data.GetProperty("mode").GetString());
            }
            await using var fourth = await _node.ConnectAsync("clinician3");
            var joined = await fourth.JoinAsync(chart, "editor");
            Assert.Equal("viewer", joined.Data.GetProperty("mode").GetString());
            Assert.Equal("MAX_EDITORS_REACHED", joined.Data.GetProperty("lockDenied").GetProperty("code").GetString());
            var refused = await fourth.AcquireLockAsync(chart);
            Assert.Equal("MAX_EDITORS_REACHED", refused.Error!.Code);
            Assert.Equal(3, refused.Error.Details.GetProperty("holders").GetArrayLength());
            Assert.Equal(3, refused.Error.Details.GetProperty("maxConcurrentEditors").GetInt32());
        }
        finally
        {
            foreach (var c in editors)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task PresenceShowsTheModeChangeWhenTheLockChangesHands()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("alice");
        await using var bob = await _node.ConnectAsync("bob");
        await alice.JoinAsync(doc, "editor");
        await bob.JoinAsync(doc, "viewer");
        static string? ModeOf(JsonElement allUsers, string user) => allUsers.GetProperty("payload").GetProperty("subResources")
            .EnumerateArray().SelectMany(g => g.GetProperty("users").EnumerateArray())
            .FirstOrDefault(u => u.GetProperty("userId").GetString() == user) is { ValueKind: JsonValueKind.Object } u
                ? u.GetProperty("mode").GetString() : null;

        await alice.ReleaseLockAsync(doc);
        await bob.WaitForAsync("resource:all_users", e => ModeOf(e, "alice") == "viewer");
        await bob.AcquireLockAsync(doc);
        var seen = await alice.WaitForAsync("resource:all_users", e => ModeOf(e, "bob") == "editor");
        Assert.Equal("viewer", ModeOf(seen, "alice"));
    }

    [Fact]
    public async Task EveryLockOperationIsAudited()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("audited");
        await alice.JoinAsync(doc, "viewer");
        await alice.AcquireLockAsync(doc);
        await alice.RenewLockAsync(doc);
        await alice.ReleaseLockAsync(doc);
        var types = (await _node.QueryAuditAsync(new AuditQuery { ResourceId = doc })).Select(e => e.Event.EventType).ToList();
        Assert.Equal(["JOIN", "LOCK_ACQUIRED", "LOCK_RENEWED", "LOCK_RELEASED"], types);
    }
}
