using Akka.Actor;
using Akka.Cluster.Sharding;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Tests;

/// <summary>
/// The sharded entity actor in a real one-node cluster: activation, stash, passivation, hand-off, lock timers on the
/// product's clock, and epoch fencing, against real SQLite stores.
/// </summary>
public sealed class EntityActorTests() : Akka.TestKit.Xunit2.TestKit(EntityHarness.Config), IAsyncLifetime
{
    private EntityHarness _h = null!;

    public async Task InitializeAsync() => _h = await EntityHarness.StartAsync(Sys);

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static ResourceId Tab(string root) => ResourceId.Parse(root + "/tab:a");

    private static string NewRoot() => "document:" + Guid.NewGuid().ToString("N")[..10];

    private async Task<ResourceStateView> StateAsync(string root) =>
        (ResourceStateView)(await _h.AskAsync(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)))).Data!;

    [Fact]
    public async Task ActivationClaimsANewEpochAndRestoresTheLocksOfTheRoot()
    {
        var root = NewRoot();
        var earlier = await _h.Locks.ClaimAsync(root, "node-earlier", default);
        var now = _h.Clock.GetUtcNow();
        await _h.Locks.SaveAsync(new LockRecord(Tab(root).Value, "L1", "bob", "Dr. Bob", "doctor", "s", now, now.AddMinutes(5), 4,
            TimeSpan.FromMinutes(5)), earlier.Epoch, default);

        var state = await StateAsync(root);

        var restored = Assert.Single(state.Locks);
        Assert.Equal(("L1", 4L, "bob"), (restored.LockId, restored.FencingToken, restored.Holder.UserId));
        Assert.Equal(earlier.Epoch + 1, await _h.StoredEpochAsync(root));
    }

    [Fact]
    public async Task AJoinSentAgainWithTheSameCorrelationIdIsAnsweredAsAJoinAndAnotherJoinIsAlreadyJoined()
    {
        // The router re-sends a retry-safe command whose attempt went unanswered (a slow first load, an owner that
        // died): the first copy may have joined already, and its retry must not come back ALREADY_JOINED.
        var root = NewRoot();
        var join = new EntityEnvelope(Tab(root), "join-1", new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Editor));
        var first = await _h.Region.Ask<EntityReply>(join, TimeSpan.FromSeconds(10));
        var again = await _h.Region.Ask<EntityReply>(join, TimeSpan.FromSeconds(10));
        Assert.True(first.Success, first.Error?.Message);
        Assert.True(again.Success, again.Error?.Message);
        var (a, b) = ((JoinResult)first.Data!, (JoinResult)again.Data!);
        Assert.Equal(("editor", 1), (a.Mode, a.Users.Count));
        Assert.Equal((a.Mode, a.Users.Count, a.Lock!.LockId, a.Lock.FencingToken), (b.Mode, b.Users.Count, b.Lock!.LockId, b.Lock.FencingToken));
        Assert.Single((await StateAsync(root)).Locks); // joined and granted once

        var other = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Viewer));
        Assert.Equal(ErrorCodes.AlreadyJoined, other.Error?.Code);
    }

    [Fact]
    public async Task WhenActivationFailsEveryWaitingCallerIsRefusedAndTheNextMessageActivatesAfresh()
    {
        var root = NewRoot();
        _h.Locks.FailClaims = 1;
        var gate = new TaskCompletionSource();
        _h.Locks.ClaimGate = gate;
        var first = _h.AskAsync(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)));
        var second = _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Viewer));
        await AwaitConditionAsync(() => _h.Locks.Claims >= 1);
        gate.SetResult();

        foreach (var refused in await Task.WhenAll(first, second))
        {
            Assert.Equal(ErrorCodes.Unavailable, refused.Error?.Code);
            Assert.Contains("could not be loaded", refused.Error!.Message, StringComparison.Ordinal);
        }
        await _h.WaitStoppedAsync(root);

        var joined = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Viewer));
        Assert.True(joined.Success, joined.Error?.Message);
        Assert.Equal(2, _h.Locks.Claims);
    }

    [Fact]
    public async Task MessagesArrivingWhileTheEntityActivatesAreStashedAndHandledInOrder()
    {
        var root = NewRoot();
        var gate = new TaskCompletionSource();
        _h.Locks.ClaimGate = gate;
        var joins = Enumerable.Range(0, 5)
            .Select(i => _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member($"c{i}", $"user{i}"), JoinMode.Viewer)))
            .ToList();
        var state = _h.AskAsync(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)));
        await AwaitConditionAsync(() => _h.Locks.Claims == 1);
        Assert.False(state.IsCompleted); // held while the root is being claimed
        gate.SetResult();

        var replies = await Task.WhenAll(joins);
        Assert.All(replies, r => Assert.True(r.Success, r.Error?.Message));
        var users = ((JoinResult)replies[^1].Data!).Users.Select(u => u.UserId);
        Assert.Equal(["user0", "user1", "user2", "user3", "user4"], users); // in arrival order
        Assert.Equal(5, ((ResourceStateView)(await state).Data!).TotalUsers); // asked after the joins, answered after them
    }

    [Fact]
    public async Task AnIdleEntityIsPassivatedByItsRegionAndMessagesRacingThePassivationAreNotLost()
    {
        var root = NewRoot();
        await StateAsync(root);
        var epoch = await _h.StoredEpochAsync(root);

        // Past PassivateAfter: the next sweep passivates; joins sent right behind it race the stop.
        _h.Clock.Advance(TimeSpan.FromMinutes(3));
        var joins = Enumerable.Range(0, 20)
            .Select(i => _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member($"c{i}", $"user{i}"), JoinMode.Viewer)))
            .ToList();

        var replies = await Task.WhenAll(joins);
        Assert.All(replies, r => Assert.True(r.Success, r.Error?.Message));
        var state = await StateAsync(root);
        Assert.Equal(20, state.TotalUsers); // every join landed in the incarnation that answers now
        Assert.Equal(epoch + 1, await _h.StoredEpochAsync(root)); // the entity was passivated and activated again
    }

    [Fact]
    public async Task TheRouterReachesALocalActiveEntityDirectlyAndWhatReachesItAfterItStoppedIsAnsweredByTheNextIncarnation()
    {
        var root = NewRoot();
        Assert.True((await _h.RouteAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c0"), JoinMode.Viewer))).Success);
        Assert.True(_h.Census.TryGetActive(root, out var first)); // active: listed for the direct path
        Assert.True((await _h.RouteAsync(Tab(root), new LeaveResource(Tab(root), "c0"))).Success);
        var epoch = await _h.StoredEpochAsync(root);

        _h.Clock.Advance(TimeSpan.FromMinutes(3));
        await _h.WaitStoppedAsync(root);
        Assert.False(_h.Census.TryGetActive(root, out _)); // withdrawn before it stopped

        // A sender that looked the entity up just before it stopped: the message is a dead letter, re-sent through
        // the region, and answered by a new incarnation (not left to the ask timeout).
        var late = await first.Ask<EntityReply>(new EntityEnvelope(Tab(root), "late",
            new JoinResource(Tab(root), EntityHarness.Member("c1", "late"), JoinMode.Viewer)), TimeSpan.FromSeconds(10));
        Assert.True(late.Success, late.Error?.Message);
        Assert.Equal(epoch + 1, await _h.StoredEpochAsync(root));
        Assert.Equal(1, (await StateAsync(root)).TotalUsers);
        Assert.True(_h.Census.TryGetActive(root, out var second));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task MessagesRoutedDirectlyWhileTheEntityPassivatesAreNotLost()
    {
        var root = NewRoot();
        await _h.RouteAsync(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)));
        var epoch = await _h.StoredEpochAsync(root);

        _h.Clock.Advance(TimeSpan.FromMinutes(3));
        var joins = Enumerable.Range(0, 20)
            .Select(i => _h.RouteAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member($"c{i}", $"user{i}"), JoinMode.Viewer)))
            .ToList();

        var replies = await Task.WhenAll(joins);
        Assert.All(replies, r => Assert.True(r.Success, r.Error?.Message));
        Assert.Equal(20, (await StateAsync(root)).TotalUsers);
        Assert.Equal(epoch + 1, await _h.StoredEpochAsync(root));
    }

    [Fact]
    public async Task AnEntityWithMembersIsNotPassivatedHoweverLongItIsQuiet()
    {
        var root = NewRoot();
        await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Viewer));
        var epoch = await _h.StoredEpochAsync(root);
        for (var i = 0; i < 10; i++)
        {
            _h.Clock.Advance(TimeSpan.FromMinutes(3));
        }
        Assert.Equal(1, (await StateAsync(root)).TotalUsers);
        Assert.Equal(epoch, await _h.StoredEpochAsync(root));
    }

    [Fact]
    public async Task AHandOffWaitsForUncommittedUpdatesBeforeTheEntityStops()
    {
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        var joined = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor));
        Assert.Equal("editor", ((JoinResult)joined.Data!).Mode);
        _h.Documents.AppendGate = new TaskCompletionSource();
        var update = _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, TextUpdate("hello")), TimeSpan.FromSeconds(20));
        await _h.Documents.AppendStarted;

        // The region hands every shard off (as when this node leaves); the entity must drain its commit first.
        await EventFilter.Info(contains: "is handed off; 1 commits to drain").ExpectOneAsync(() => _h.Region.Tell(GracefulShutdown.Instance));
        Assert.Contains(root, _h.Census.Roots); // it got the stop message and is still alive
        Assert.False(update.IsCompleted);

        _h.Documents.AppendGate.SetResult();
        var ack = await update;
        Assert.True(ack.Success, ack.Error?.Message);
        Assert.Equal(1, ((DocUpdateAck)ack.Data!).Revision);
        await _h.WaitStoppedAsync(root);
        Assert.Single(await _h.Documents.ReadUpdatesAsync(Tab(root).Value, 0, null, default));
    }

    [Fact]
    public async Task ARepeatedUpdateIsAcknowledgedWithoutANewRevisionOnlyOnceTheFirstCopyIsDurable()
    {
        // The router re-sends an unanswered doc:update (its owner may have died with it); the entity may still hold
        // the first copy in memory, waiting for its commit. The second copy must not be "success" any sooner.
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        Assert.True((await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor))).Success);
        var bytes = TextUpdate("hello");
        _h.Documents.AppendGate = new TaskCompletionSource();
        var first = _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, bytes), TimeSpan.FromSeconds(20));
        await _h.Documents.AppendStarted;
        var second = _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, bytes), TimeSpan.FromSeconds(20));
        try
        {
            var state = await StateAsync(root); // answered after the second copy: the entity has handled it
            Assert.NotNull(state);
            Assert.False(first.IsCompleted);
            Assert.False(second.IsCompleted, "the repeated update was acknowledged before the first copy was durable");
        }
        finally
        {
            _h.Documents.AppendGate.SetResult(); // else the harness cannot stop its committer
        }
        var (a, b) = (await first, await second);
        Assert.True(a.Success && b.Success, a.Error?.Message ?? b.Error?.Message);
        Assert.Equal(1, a.NewRevision);
        Assert.Equal(1, b.NewRevision); // no new revision for what added nothing
        Assert.True(((DuplicateUpdateResult)b.Data!).Duplicate);
        Assert.Single(await _h.Documents.ReadUpdatesAsync(Tab(root).Value, 0, null, default));

        // Once everything is durable a repetition is answered at once.
        var third = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, bytes));
        Assert.True(third.Success);
        Assert.Equal(1, third.NewRevision);
    }

    [Fact]
    public async Task ALockExpiresOnTheProductsClockAndEveryoneHearsLockExpired()
    {
        var root = NewRoot();
        var joined = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Editor));
        var granted = ((JoinResult)joined.Data!).Lock!;
        _h.Clock.Advance(granted.ExpiresAt - _h.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        var expired = await _h.Events.WaitForAsync(EventNames.LockExpired);
        Assert.Equal(granted.LockId, ((LockEndedPayload)expired.Event.Payload).LockId);
        Assert.Empty((await StateAsync(root)).Locks);
        Assert.Empty((await _h.Locks.LoadAsync(root, default)).Locks);
    }

    [Fact]
    public async Task ALockTimerTickIsNotLostBehindAFullMailbox()
    {
        // Before: a tick posted while 10,000 messages waited was dropped and the lock outlived its TTL silently.
        var root = NewRoot();
        var joined = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Editor));
        var granted = ((JoinResult)joined.Data!).Lock!;
        for (var i = 0; i < 20_000; i++)
        {
            _h.Tell(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)));
        }
        _h.Clock.Advance(granted.ExpiresAt - _h.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        var expired = await _h.Events.WaitForAsync(EventNames.LockExpired, TimeSpan.FromSeconds(30));
        Assert.Equal(granted.LockId, ((LockEndedPayload)expired.Event.Payload).LockId);
    }

    [Fact]
    public async Task ADisconnectBehindABusyMailboxLeavesNoGhostAndTheEntityPassivates()
    {
        // Before: a DisconnectMember refused by a full mailbox left a member no connection owned, and the entity never stopped.
        var root = NewRoot();
        await _h.AskAsync(Tab(root), new JoinResource(Tab(root), EntityHarness.Member("c1"), JoinMode.Editor));
        for (var i = 0; i < 20_000; i++)
        {
            _h.Tell(ResourceId.Parse(root), new GetResourceState(ResourceId.Parse(root)));
        }
        _h.Tell(ResourceId.Parse(root), new DisconnectMember("c1", "connection_lost"));
        var state = await StateAsync(root);
        Assert.Equal(0, state.TotalUsers);

        // The lock is in its grace period; once it ends and the entity is idle long enough, the region stops it.
        _h.Clock.Advance(TimeSpan.FromMinutes(1));
        await AwaitConditionAsync(async () => (await _h.Locks.LoadAsync(root, default)).Locks.Count == 0);
        _h.Clock.Advance(TimeSpan.FromMinutes(3));
        await _h.WaitStoppedAsync(root);
    }

    [Fact]
    public async Task ASecondIncarnationFencesTheFirstWhichStopsAndTheNextMessageReachesANewOne()
    {
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        var joined = await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor));
        var granted = ((JoinResult)joined.Data!).Lock!;
        var firstEpoch = await _h.StoredEpochAsync(root);

        // Another node claims the root (a hand-off or split left two incarnations for a moment).
        var other = await _h.Locks.ClaimAsync(root, "node-other", default);
        Assert.Equal(firstEpoch + 1, other.Epoch);

        var update = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, TextUpdate("late")));
        Assert.Equal(ErrorCodes.Unavailable, update.Error?.Code);
        Assert.Contains("moved", update.Error!.Message, StringComparison.Ordinal);
        Assert.Empty(await _h.Documents.ReadUpdatesAsync(Tab(root).Value, 0, null, default)); // the late write was refused
        await _h.WaitStoppedAsync(root);

        // The lock the first incarnation granted is still in the store; the next message meets a fresh incarnation.
        var state = await StateAsync(root);
        Assert.Equal(granted.LockId, Assert.Single(state.Locks).LockId);
        Assert.Equal(other.Epoch + 1, await _h.StoredEpochAsync(root));
    }

    [Fact]
    public async Task ASessionThatTookItsLockAfterAViewerJoinGetsItBackAsEditorWhenItsNodeReRegistersIt()
    {
        // Joined as viewer, then lock:acquire; the entity moves; the session's node re-joins it with the mode it joined
        // with (viewer). The restored lock is this session's: it comes back as editor, not as a viewer who must acquire.
        var root = NewRoot();
        var member = EntityHarness.Member("c1");
        Assert.True((await _h.AskAsync(Tab(root), new JoinResource(Tab(root), member, JoinMode.Viewer))).Success);
        var acquired = await _h.AskAsync(Tab(root), new AcquireLock(Tab(root), member, null));
        Assert.True(acquired.Success, acquired.Error?.Message);
        var before = Assert.Single((await StateAsync(root)).Locks);

        await _h.Locks.ClaimAsync(root, "node-other", default); // the next write finds this incarnation fenced: it stops
        Assert.Equal(ErrorCodes.Unavailable, (await _h.AskAsync(Tab(root), new RenewLock(Tab(root), member))).Error?.Code);
        await _h.WaitStoppedAsync(root);

        var rejoined = (JoinResult)(await _h.AskAsync(Tab(root), new JoinResource(Tab(root), member, JoinMode.Viewer))).Data!;
        Assert.Equal("editor", rejoined.Mode);
        Assert.Equal((before.LockId, before.FencingToken), (rejoined.Lock!.LockId, rejoined.Lock.FencingToken));
        var other = EntityHarness.Member("c2", "bob");
        var bob = (JoinResult)(await _h.AskAsync(Tab(root), new JoinResource(Tab(root), other, JoinMode.Viewer))).Data!;
        Assert.Equal("viewer", bob.Mode); // another session's viewer join takes nothing
        Assert.Equal("alice", Assert.Single((await StateAsync(root)).Locks).Holder.UserId);
    }

    [Fact]
    public async Task AFencedLockReleaseIsRefusedAndChangesNothing()
    {
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor));
        await _h.Locks.ClaimAsync(root, "node-other", default);

        var released = await _h.AskAsync(Tab(root), new ReleaseLock(Tab(root), editor));

        Assert.Equal(ErrorCodes.Unavailable, released.Error?.Code);
        Assert.Single((await _h.Locks.LoadAsync(root, default)).Locks);
        Assert.DoesNotContain(_h.Events.Snapshot(), e => e.Event.Event == EventNames.LockReleased);
        await _h.WaitStoppedAsync(root);
    }

    [Fact]
    public async Task AReleaseIsAuditedAtTheTimeTheEntityEndedTheLockNotWhenItsStoreWriteReturned()
    {
        // A node stalled in the middle of the delete (SIGSTOP, a long GC) must not audit the end later than it
        // happened: by then a new owner may have granted the lock again (seen in the 100-round chaos run).
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _h.Locks.DeleteGate = gate;
        var decidedAt = _h.Clock.GetUtcNow();
        var releasing = _h.AskAsync(Tab(root), new ReleaseLock(Tab(root), editor));
        await _h.Locks.DeleteStarted;
        _h.Clock.Advance(TimeSpan.FromSeconds(5));
        gate.SetResult();
        Assert.True((await releasing).Success);

        var released = Assert.Single(((RecordingAudit)_h.Runtime.Audit).Snapshot(), a => a.EventType == "LOCK_RELEASED" && a.ResourceId == Tab(root).Value);
        Assert.Equal(decidedAt, released.Timestamp);
    }

    [Fact]
    public async Task AnEditThatWouldTakeTheDocumentPastItsLimitIsRefusedAndChangesNothingWhileARepeatedUpdateIsStillAcknowledged()
    {
        // A document must fit in one message between nodes (Collab:Cluster:MaximumFrameSize), so it has a size limit.
        _h.Runtime.DocumentOptions.MaxDocumentBytes = 4096;
        var root = NewRoot();
        var editor = EntityHarness.Member("c1");
        Assert.True((await _h.AskAsync(Tab(root), new JoinResource(Tab(root), editor, JoinMode.Editor))).Success);
        var first = TextUpdate(new string('a', 3000));
        var accepted = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, first));
        Assert.True(accepted.Success, accepted.Error?.Message);

        var tooLarge = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, TextUpdate(new string('b', 2000))));
        var saved = await _h.AskAsync(Tab(root), new SetDocumentField(Tab(root), editor, "body", new RawJson("\"" + new string('c', 2000) + "\""), 1));

        Assert.Equal(ErrorCodes.PayloadTooLarge, tooLarge.Error?.Code);
        Assert.Contains("Collab:Documents:MaxDocumentBytes", tooLarge.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.PayloadTooLarge, saved.Error?.Code);
        var content = (DocumentContent)(await _h.AskAsync(Tab(root), new GetDocumentContent(Tab(root)))).Data!;
        Assert.Equal(1, content.Revision);
        Assert.Equal(new string('a', 3000), System.Text.Json.JsonDocument.Parse(content.Content.Json).RootElement.GetProperty("body").GetString());

        // A client re-sending what was applied (a resync after a reconnect) adds nothing, so it is not refused.
        var again = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, first));
        Assert.True(again.Success, again.Error?.Message);
        Assert.True(((DuplicateUpdateResult)again.Data!).Duplicate);
        // What still fits is accepted.
        var small = await _h.AskAsync(Tab(root), new ApplyDocumentUpdate(Tab(root), editor, TextUpdate("ok")));
        Assert.True(small.Success, small.Error?.Message);
        Assert.Equal(2, small.NewRevision);
    }

    private static byte[] TextUpdate(string text)
    {
        var doc = new Yjs.YDoc();
        byte[]? update = null;
        doc.UpdateProduced += (_, e) => update = e.Update;
        doc.Transact(() => doc.GetText("body").Insert(0, text));
        return update!;
    }

    private static Task AwaitConditionAsync(Func<bool> condition) => AwaitConditionAsync(() => Task.FromResult(condition()));

    private static async Task AwaitConditionAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Condition not met.");
            }
            await Task.Delay(10);
        }
    }
}
