using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;

namespace CollabAkka.Store.Tests;

/// <summary>
/// What every store implementation must do, run against each (SQLite, PostgreSQL) through a factory:
/// update log order and atomicity, snapshots, history, locks and fencing tokens, the audit trail with its
/// filters, paging and retention, two writers at once, migrations, and a clear UNAVAILABLE when the database
/// cannot be reached.
/// </summary>
public abstract class StoreConformanceTests<TFactory>(TFactory factory) : IClassFixture<TFactory>
    where TFactory : class, IStoreFactory
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static string Id(string prefix) => $"{prefix}{Guid.NewGuid().ToString("N")[..8]}";

    private static DocumentUpdateRecord Update(string resource, long revision, int size = 8) =>
        new(resource, revision, Enumerable.Range(0, size).Select(i => (byte)(i + revision)).ToArray(), "u" + revision, "s1",
            T0.AddSeconds(revision).AddTicks(1234)); // sub-millisecond part: stores keep milliseconds

    private static AuditEvent Event(string type, string? user = "alice", string? resource = "document:1", int second = 0, string? correlation = null) => new()
    {
        EventType = type,
        Timestamp = T0.AddSeconds(second),
        UserId = user,
        Username = user is null ? null : "Dr. " + user,
        Role = "doctor",
        ResourceId = resource,
        SessionId = "sess-1",
        NodeId = "node-a",
        Ip = "10.0.0.7",
        UserAgent = "Mozilla/5.0 (X11; Linux), \"quoted\"\nsecond line",
        CorrelationId = correlation,
        Details = new Dictionary<string, object?> { ["reason"] = "a, b", ["count"] = 3 },
    };

    // ---- documents ----------------------------------------------------------------------------------

    [Fact]
    public async Task UpdatesAreReadBackInRevisionOrderWithTheirBytesAndMetadata()
    {
        await using var stores = await factory.CreateAsync();
        var doc = Id("document:");
        await stores.Documents.AppendAsync([Update(doc, 1), Update(doc, 2)], default);
        await stores.Documents.AppendAsync([Update(doc, 3, size: 70_000)], default);

        var all = await stores.Documents.ReadUpdatesAsync(doc, 0, null, default);
        Assert.Equal([1L, 2, 3], all.Select(u => u.Revision));
        Assert.Equal(Update(doc, 3, 70_000).Update, all[2].Update);
        Assert.Equal("u2", all[1].UserId);
        Assert.Equal("s1", all[1].SessionId);
        Assert.Equal(T0.AddSeconds(2).ToUnixTimeMilliseconds(), all[1].Timestamp.ToUnixTimeMilliseconds());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(all[1].Timestamp.ToUnixTimeMilliseconds()), all[1].Timestamp);

        Assert.Equal([2L, 3], (await stores.Documents.ReadUpdatesAsync(doc, 1, null, default)).Select(u => u.Revision));
        Assert.Equal([2L], (await stores.Documents.ReadUpdatesAsync(doc, 1, 2, default)).Select(u => u.Revision));
        Assert.Empty(await stores.Documents.ReadUpdatesAsync(doc, 3, null, default));
        Assert.Equal(3, await stores.Documents.GetLatestRevisionAsync(doc, default));
        Assert.Equal(0, await stores.Documents.GetLatestRevisionAsync(Id("document:"), default));
    }

    [Fact]
    public async Task ABatchSpanningResourcesIsAppendedAtomically()
    {
        await using var stores = await factory.CreateAsync();
        var a = Id("document:");
        var b = Id("document:");
        await stores.Documents.AppendAsync([Update(a, 1), Update(b, 1), Update(a, 2)], default);
        Assert.Equal(2, await stores.Documents.GetLatestRevisionAsync(a, default));
        Assert.Equal(1, await stores.Documents.GetLatestRevisionAsync(b, default));

        // (resource, revision) is unique: a duplicate is refused as a value, by position, and the rest of the batch
        // is written (one stale record must not stall every document of the node).
        var result = await stores.Documents.AppendAsync([Update(b, 2), Update(a, 2, size: 3)], default);
        Assert.Equal([1], result.Refused);
        Assert.Equal(2, await stores.Documents.GetLatestRevisionAsync(b, default));
        var kept = await stores.Documents.ReadUpdatesAsync(a, 0, null, default);
        Assert.Equal(2, kept.Count);
        Assert.Equal(Update(a, 2).Update, kept[1].Update); // the first revision 2 stays
    }

    [Fact]
    public async Task TheNewestSnapshotAtOrBeforeARevisionIsLoadedAndASecondSaveOfTheSameRevisionIsIgnored()
    {
        await using var stores = await factory.CreateAsync();
        var doc = Id("document:");
        Assert.Null(await stores.Documents.LoadSnapshotAsync(doc, null, default));
        await stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(doc, 10, [1, 2, 3], T0), default);
        await stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(doc, 20, [4, 5], T0.AddMinutes(1)), default);
        await stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(doc, 20, [9, 9, 9], T0.AddMinutes(2)), default);

        var newest = await stores.Documents.LoadSnapshotAsync(doc, null, default);
        Assert.Equal(20, newest!.Revision);
        Assert.Equal([4, 5], newest.State);
        Assert.Equal(T0.AddMinutes(1), newest.Timestamp);
        Assert.Equal(10, (await stores.Documents.LoadSnapshotAsync(doc, 19, default))!.Revision);
        Assert.Equal(20, (await stores.Documents.LoadSnapshotAsync(doc, 20, default))!.Revision);
        Assert.Null(await stores.Documents.LoadSnapshotAsync(doc, 9, default));
    }

    [Fact]
    public async Task HistoryIsListedOldestFirstAndPagedByRevisionWithoutContent()
    {
        await using var stores = await factory.CreateAsync();
        var doc = Id("document:");
        await stores.Documents.AppendAsync([.. Enumerable.Range(1, 7).Select(r => Update(doc, r, size: r * 10))], default);
        var first = await stores.Documents.ListRevisionsAsync(doc, 0, 3, default);
        Assert.Equal([1L, 2, 3], first.Select(r => r.Revision));
        Assert.Equal([10, 20, 30], first.Select(r => r.Bytes));
        Assert.Equal("u2", first[1].UserId);
        var next = await stores.Documents.ListRevisionsAsync(doc, first[^1].Revision, 3, default);
        Assert.Equal([4L, 5, 6], next.Select(r => r.Revision));
        Assert.Equal([7L], (await stores.Documents.ListRevisionsAsync(doc, 6, 3, default)).Select(r => r.Revision));
    }

    // ---- locks ------------------------------------------------------------------------------------------

    private static LockRecord Lock(string resource, string lockId, long token, int ttlSeconds = 30, string session = "s1") =>
        new(resource, lockId, "alice", "Dr. Alice", "doctor", session, T0, T0.AddSeconds(ttlSeconds), token, TimeSpan.FromSeconds(ttlSeconds));

    [Fact]
    public async Task ALockIsStoredWithEverythingNeededToRestoreItAndLoadedByItsRoot()
    {
        await using var stores = await factory.CreateAsync();
        var root = Id("document:");
        var child = $"{root}/tab:plan";
        await stores.Locks.SaveAsync(Lock(child, "L1", 4, ttlSeconds: 45), 0, default);
        await stores.Locks.SaveAsync(Lock(root + "0/tab:plan", "L9", 1), 0, default); // a root that only shares a prefix

        var snapshot = await stores.Locks.LoadAsync(root, default);
        var held = Assert.Single(snapshot.Locks);
        Assert.Equal(Lock(child, "L1", 4, ttlSeconds: 45), held);
        Assert.Equal(4, Assert.Single(snapshot.LastTokens).Value);
        Assert.Empty((await stores.Locks.LoadAsync(Id("document:"), default)).Locks);
    }

    [Fact]
    public async Task RenewingALockMovesOnlyItsExpiryAndSession()
    {
        await using var stores = await factory.CreateAsync();
        var root = Id("document:");
        await stores.Locks.SaveAsync(Lock(root, "L1", 7), 0, default);
        await stores.Locks.SaveAsync(Lock(root, "L1", 7, session: "s2") with { ExpiresAt = T0.AddMinutes(5), Username = "ignored" }, 0, default);
        var held = Assert.Single((await stores.Locks.LoadAsync(root, default)).Locks);
        Assert.Equal(T0.AddMinutes(5), held.ExpiresAt);
        Assert.Equal("s2", held.SessionId);
        Assert.Equal("Dr. Alice", held.Username);
        Assert.Equal(T0, held.AcquiredAt);
    }

    [Fact]
    public async Task AFencingTokenNeverGoesBackwardsAndOutlivesItsLock()
    {
        await using var stores = await factory.CreateAsync();
        var root = Id("document:");
        var child = $"{root}/tab:a";
        Assert.Equal(StoreWrite.Written, await stores.Locks.SaveAsync(Lock(child, "L5", 5), 0, default));
        Assert.Equal(StoreWrite.Written, await stores.Locks.DeleteAsync(child, "L5", 0, default));
        // A stale writer with a lower token is refused: a token is never handed out below one already used.
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.SaveAsync(Lock(child, "L3", 3), 0, default));
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.SaveAsync(Lock(child, "L5b", 5), 0, default));
        var snapshot = await stores.Locks.LoadAsync(root, default);
        Assert.Equal(5, snapshot.LastTokens[child]);
        Assert.Empty(snapshot.Locks);

        Assert.Equal(StoreWrite.Written, await stores.Locks.SaveAsync(Lock(child, "L6", 6), 0, default));
        Assert.Equal(StoreWrite.Written, await stores.Locks.DeleteAsync(child, "L6", 0, default));
        Assert.Equal(StoreWrite.Written, await stores.Locks.DeleteAsync(child, "missing", 0, default)); // deleting nothing is fine
        snapshot = await stores.Locks.LoadAsync(root, default);
        Assert.Empty(snapshot.Locks);
        Assert.Equal(6, snapshot.LastTokens[child]);
    }

    [Fact]
    public async Task ANewerClaimFencesEveryWriteOfTheOlderIncarnation()
    {
        await using var stores = await factory.CreateAsync();
        var root = Id("document:");
        var child = $"{root}/tab:a";
        var first = await stores.Locks.ClaimAsync(root, "node-a", default);
        Assert.Empty(first.Locks.Locks);
        Assert.Equal(StoreWrite.Written, await stores.Locks.SaveAsync(Lock(child, "L1", 1), first.Epoch, default));
        Assert.Equal(AppendResult.AllWritten.Refused,
            (await stores.Documents.AppendAsync([Update(child, 1) with { Epoch = first.Epoch }], default)).Refused);

        var second = await stores.Locks.ClaimAsync(root, "node-b", default);
        Assert.Equal(first.Epoch + 1, second.Epoch);
        Assert.Equal("L1", Assert.Single(second.Locks.Locks).LockId); // the new owner sees what the old one wrote
        Assert.Equal(1, second.Locks.LastTokens[child]);

        // The paused former owner wakes up: nothing it writes lands.
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.SaveAsync(Lock(child, "L2", 2), first.Epoch, default));
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.SaveAsync(Lock(child, "L1", 1) with { ExpiresAt = T0.AddHours(1) }, first.Epoch, default));
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.DeleteAsync(child, "L1", first.Epoch, default));
        Assert.Equal(StoreWrite.Fenced, await stores.Locks.SaveAsync(Lock(child, "L2", 2), 0, default)); // nor an unclaimed writer
        var stale = await stores.Documents.AppendAsync(
            [Update(child, 2) with { Epoch = first.Epoch }, Update(child, 2, size: 4) with { Epoch = second.Epoch }], default);
        Assert.Equal([0], stale.Refused);
        Assert.Equal(StoreWrite.Fenced,
            await stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(child, 2, [7], T0, first.Epoch), default));
        Assert.Null(await stores.Documents.LoadSnapshotAsync(child, null, default));

        var now = await stores.Locks.LoadAsync(root, default);
        Assert.Equal(T0.AddSeconds(30), Assert.Single(now.Locks).ExpiresAt);
        Assert.Equal(1, now.LastTokens[child]);
        Assert.Equal(Update(child, 2, size: 4).Update, (await stores.Documents.ReadUpdatesAsync(child, 1, null, default)).Single().Update);

        // The current owner writes as usual.
        Assert.Equal(StoreWrite.Written, await stores.Locks.SaveAsync(Lock(child, "L2", 2), second.Epoch, default));
        Assert.Equal(StoreWrite.Written, await stores.Locks.DeleteAsync(child, "L1", second.Epoch, default));
        Assert.Equal(StoreWrite.Written,
            await stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(child, 2, [8], T0, second.Epoch), default));
    }

    [Fact]
    public async Task AnUpdatesAuditRecordIsWrittenWithItAndOnlyWhenTheUpdateIs()
    {
        await using var stores = await factory.CreateAsync();
        var root = Id("document:");
        var user = Id("u");
        var epoch = (await stores.Locks.ClaimAsync(root, "node-a", default)).Epoch;
        AuditEvent Edit(long revision) => Event("EDIT", user, root, correlation: $"{user}-{revision}") with
        {
            Details = new Dictionary<string, object?> { ["revision"] = revision, ["fields"] = new[] { "notes" } },
        };
        // Revision 2 twice (the second is a duplicate), revision 3 from a stale epoch, revision 4 without a record.
        var result = await stores.Documents.AppendAsync(
            [Update(root, 1) with { Epoch = epoch }, Update(root, 2) with { Epoch = epoch }, Update(root, 2, size: 3) with { Epoch = epoch },
                Update(root, 3) with { Epoch = epoch - 1 }, Update(root, 4) with { Epoch = epoch }],
            [Edit(1), Edit(2), Edit(22), Edit(3), null], default);
        Assert.Equal([2, 3], result.Refused);
        Assert.Equal([1L, 2, 4], (await stores.Documents.ReadUpdatesAsync(root, 0, null, default)).Select(u => u.Revision));
        var trail = await stores.Audit.QueryAsync(new AuditQuery { UserId = user }, default);
        Assert.Equal([$"{user}-1", $"{user}-2"], trail.Select(e => e.Event.CorrelationId));
        Assert.All(trail, e => Assert.Equal(("EDIT", root, "Dr. " + user), (e.Event.EventType, e.Event.ResourceId, e.Event.Username)));
        Assert.Equal(2, ((JsonElement)trail[1].Event.Details!["revision"]!).GetInt64());
        Assert.True(trail[0].Id < trail[1].Id, "records in the order of their updates");
        await Assert.ThrowsAsync<ArgumentException>(() => stores.Documents.AppendAsync([Update(root, 5) with { Epoch = epoch }], [], default));
    }

    // ---- audit ------------------------------------------------------------------------------------------

    [Fact]
    public async Task AnAuditEventRoundTripsEveryFieldToTheMillisecond()
    {
        await using var stores = await factory.CreateAsync();
        var user = Id("u");
        var original = Event("LOCK_ACQUIRED", user, correlation: "corr-1") with { Timestamp = T0.AddTicks(98_765) };
        await stores.Audit.AppendAsync([original], default);
        var stored = Assert.Single(await stores.Audit.QueryAsync(new AuditQuery { UserId = user }, default));
        Assert.True(stored.Id > 0);
        var e = stored.Event;
        Assert.Equal(T0.AddMilliseconds(9), e.Timestamp);
        Assert.Equal(
            (original.EventType, original.UserId, original.Username, original.Role, original.ResourceId, original.SessionId,
                original.NodeId, original.Ip, original.UserAgent, original.CorrelationId),
            (e.EventType, e.UserId, e.Username, e.Role, e.ResourceId, e.SessionId, e.NodeId, e.Ip, e.UserAgent, e.CorrelationId));
        Assert.Equal("a, b", ((JsonElement)e.Details!["reason"]!).GetString());
        Assert.Equal(3, ((JsonElement)e.Details["count"]!).GetInt32());

        var bare = new AuditEvent { EventType = "CONNECTION_REJECTED", Timestamp = T0, CorrelationId = Id("c") };
        await stores.Audit.AppendAsync([bare], default);
        var back = Assert.Single(await stores.Audit.QueryAsync(new AuditQuery { CorrelationId = bare.CorrelationId }, default)).Event;
        Assert.Null(back.UserId);
        Assert.Null(back.Details);
        await stores.Audit.AppendAsync([], default);
    }

    [Fact]
    public async Task AuditQueriesFilterByUserResourceTypeCorrelationAndTimeRange()
    {
        await using var stores = await factory.CreateAsync();
        await stores.Audit.AppendAsync(
        [
            Event("JOIN", "alice", "document:1", 0, "c1"),
            Event("LOCK_ACQUIRED", "alice", "document:1/tab:a", 10, "c2"),
            Event("JOIN", "bob", "document:2", 20, "c3"),
            Event("LEAVE", "alice", "document:1", 30, "c4"),
            Event("JOIN", "carol", "document:1", 40, "c4"),
        ], default);
        async Task<string[]> Types(AuditQuery q) =>
            [.. (await stores.Audit.QueryAsync(q, default)).Select(s => $"{s.Event.UserId}:{s.Event.EventType}")];

        Assert.Equal(["alice:JOIN", "alice:LOCK_ACQUIRED", "alice:LEAVE"], await Types(new AuditQuery { UserId = "alice" }));
        Assert.Equal(["alice:JOIN", "alice:LEAVE", "carol:JOIN"], await Types(new AuditQuery { ResourceId = "document:1" }));
        Assert.Equal(["alice:JOIN", "bob:JOIN", "carol:JOIN"], await Types(new AuditQuery { EventType = "JOIN" }));
        Assert.Equal(["alice:LEAVE", "carol:JOIN"], await Types(new AuditQuery { CorrelationId = "c4" }));
        // From is inclusive, To exclusive.
        Assert.Equal(["alice:LOCK_ACQUIRED", "bob:JOIN"], await Types(new AuditQuery { From = T0.AddSeconds(10), To = T0.AddSeconds(30) }));
        Assert.Equal(["alice:LEAVE"], await Types(new AuditQuery { UserId = "alice", From = T0.AddSeconds(15) }));
        Assert.Equal(["carol:JOIN"], await Types(new AuditQuery { EventType = "JOIN", ResourceId = "document:1", From = T0.AddSeconds(1) }));
        Assert.Empty(await Types(new AuditQuery { From = T0.AddDays(1) }));
        Assert.Empty(await Types(new AuditQuery { UserId = "nobody" }));
    }

    [Fact]
    public async Task AuditQueriesPageByIdWithoutGapsOrRepeats()
    {
        await using var stores = await factory.CreateAsync();
        var user = Id("u");
        await stores.Audit.AppendAsync([.. Enumerable.Range(0, 25).Select(i => Event("EDIT", user, second: i))], default);
        var seen = new List<StoredAuditEvent>();
        long? after = null;
        while (true)
        {
            var page = await stores.Audit.QueryAsync(new AuditQuery { UserId = user, AfterId = after, Limit = 10 }, default);
            seen.AddRange(page);
            if (page.Count < 10)
            {
                break;
            }
            after = page[^1].Id;
        }
        Assert.Equal(25, seen.Count);
        Assert.Equal(seen.Select(s => s.Id).Order(), seen.Select(s => s.Id));
        Assert.Equal(25, seen.Select(s => s.Id).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 25).Select(i => T0.AddSeconds(i)), seen.Select(s => s.Event.Timestamp));
    }

    [Fact]
    public async Task TimeRangePagesFindEventsWrittenLateWithOlderTimestamps()
    {
        // Ids follow write order, not time: an event buffered through an outage lands after newer ones.
        await using var stores = await factory.CreateAsync();
        var user = Id("u");
        await stores.Audit.AppendAsync([.. new[] { 50, 10, 60, 20, 70, 30 }.Select(s => Event("E", user, second: s))], default);
        var seen = new List<int>();
        long? after = null;
        while (true)
        {
            var page = await stores.Audit.QueryAsync(new AuditQuery { From = T0.AddSeconds(20), To = T0.AddSeconds(65), AfterId = after, Limit = 1 }, default);
            var mine = page.Where(p => p.Event.UserId == user).ToList();
            seen.AddRange(mine.Select(p => (int)(p.Event.Timestamp - T0).TotalSeconds));
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
        }
        Assert.Equal([50, 60, 20, 30], seen);
    }

    [Fact]
    public async Task PurgeDeletesOnlyEventsOlderThanTheCutoffInBatches()
    {
        await using var stores = await factory.CreateAsync();
        var user = Id("u");
        await stores.Audit.AppendAsync([.. Enumerable.Range(0, 12).Select(i => Event("OLD", user, second: i))], default);
        await stores.Audit.AppendAsync([Event("EDGE", user, second: 12), Event("NEW", user, second: 100)], default);
        var cutoff = T0.AddSeconds(12);

        Assert.Equal(5, await stores.Audit.PurgeAsync(cutoff, 5, default));
        Assert.Equal(5, await stores.Audit.PurgeAsync(cutoff, 5, default));
        Assert.Equal(2, await stores.Audit.PurgeAsync(cutoff, 5, default));
        Assert.Equal(0, await stores.Audit.PurgeAsync(cutoff, 5, default));
        var left = await stores.Audit.QueryAsync(new AuditQuery { UserId = user }, default);
        Assert.Equal(["EDGE", "NEW"], left.Select(s => s.Event.EventType));
    }

    // ---- two writers ------------------------------------------------------------------------------------

    [Fact]
    public async Task TwoWritersAppendingAuditAtOnceLoseNothing()
    {
        await using var first = await factory.CreateAsync();
        await using var second = await first.OpenSecondWriterAsync();
        var user = Id("u");
        async Task Write(IAuditStore store, string node) =>
            await Task.WhenAll(Enumerable.Range(0, 20).Select(b =>
                store.AppendAsync([.. Enumerable.Range(0, 25).Select(i => Event("EDIT", user, second: b) with { NodeId = node, SessionId = $"{b}-{i}" })], default)));
        await Task.WhenAll(Task.Run(() => Write(first.Audit, "a")), Task.Run(() => Write(second.Audit, "b")));

        var all = await first.Audit.QueryAsync(new AuditQuery { UserId = user, Limit = 5000 }, default);
        Assert.Equal(1000, all.Count);
        Assert.Equal(500, all.Count(s => s.Event.NodeId == "a"));
        Assert.Equal(1000, all.Select(s => (s.Event.NodeId, s.Event.SessionId)).Distinct().Count());
    }

    [Fact]
    public async Task TwoWritersRacingForTheSameRevisionsGetExactlyOneWinnerEach()
    {
        await using var first = await factory.CreateAsync();
        await using var second = await first.OpenSecondWriterAsync();
        var doc = Id("document:");
        var wins = new int[2];
        var writers = new[] { first.Documents, second.Documents }.Select((store, w) => Task.Run(async () =>
        {
            for (var revision = 1; revision <= 30; revision++)
            {
                // A refused record means the other writer has this revision (a real entity would stop and reload).
                var result = await store.AppendAsync([Update(doc, revision) with { UserId = $"writer{w}" }], default);
                if (result.Refused.Count == 0)
                {
                    Interlocked.Increment(ref wins[w]);
                }
            }
        }));
        await Task.WhenAll(writers);
        Assert.Equal(30, wins[0] + wins[1]);
        var log = await first.Documents.ReadUpdatesAsync(doc, 0, null, default);
        Assert.Equal(Enumerable.Range(1, 30).Select(r => (long)r), log.Select(u => u.Revision));
    }

    [Fact]
    public async Task TwoWritersRaisingOneFencingTokenKeepTheHighest()
    {
        await using var first = await factory.CreateAsync();
        await using var second = await first.OpenSecondWriterAsync();
        var root = Id("document:");
        var written = await Task.WhenAll(
            Task.Run(async () => { var n = 0; for (var t = 1; t <= 40; t += 2) { n += await first.Locks.SaveAsync(Lock(root, $"L{t}", t), 0, default) == StoreWrite.Written ? 1 : 0; } return n; }),
            Task.Run(async () => { var n = 0; for (var t = 2; t <= 40; t += 2) { n += await second.Locks.SaveAsync(Lock(root, $"L{t}", t), 0, default) == StoreWrite.Written ? 1 : 0; } return n; }));
        var snapshot = await second.Locks.LoadAsync(root, default);
        Assert.Equal(40, snapshot.LastTokens[root]);
        // Racing writers: a save whose token is no longer above the last one is refused, never stored.
        Assert.Equal(written.Sum(), snapshot.Locks.Count);
        Assert.Equal(snapshot.Locks.Select(l => l.FencingToken).Order(), snapshot.Locks.Select(l => l.FencingToken).Order().Distinct());
    }

    // ---- schema -----------------------------------------------------------------------------------------

    [Fact]
    public async Task MigratingAgainOrFromTwoWritersAtOnceChangesNothing()
    {
        await using var first = await factory.CreateAsync();
        var doc = Id("document:");
        await first.Documents.AppendAsync([Update(doc, 1)], default);
        await using var second = await first.OpenSecondWriterAsync();
        var results = await Task.WhenAll(first.Database.MigrateAsync(), second.Database.MigrateAsync(), first.Database.MigrateAsync());
        Assert.All(results, Assert.Empty);
        Assert.Equal(1, await second.Documents.GetLatestRevisionAsync(doc, default));
        await first.Database.PingAsync();
    }

    // ---- unavailability ---------------------------------------------------------------------------------

    [Fact]
    public async Task EveryOperationOnAnUnreachableDatabaseFailsWithStoreUnavailable()
    {
        await using var stores = await factory.CreateUnreachableAsync();
        var doc = "document:1";
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Database.PingAsync());
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Database.MigrateAsync());
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.AppendAsync([Update(doc, 1)], default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.ReadUpdatesAsync(doc, 0, null, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.SaveSnapshotAsync(new DocumentSnapshot(doc, 1, [1], T0), default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.LoadSnapshotAsync(doc, null, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.ListRevisionsAsync(doc, 0, 10, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Documents.GetLatestRevisionAsync(doc, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Locks.SaveAsync(Lock(doc, "L1", 1), 0, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Locks.LoadAsync(doc, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Locks.DeleteAsync(doc, "L1", 0, default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Audit.AppendAsync([Event("JOIN")], default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Audit.QueryAsync(new AuditQuery(), default));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Audit.PurgeAsync(T0, 10, default));
    }
}

public sealed class SqliteStoreConformanceTests(SqliteStoreFactory factory) : StoreConformanceTests<SqliteStoreFactory>(factory);

public sealed class PostgresStoreConformanceTests(PostgresStoreFactory factory) : StoreConformanceTests<PostgresStoreFactory>(factory);
