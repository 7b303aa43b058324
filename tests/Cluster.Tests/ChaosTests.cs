using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using CollabAkka.TestKit;
using CollabAkka.Yjs;
using Npgsql;
using Xunit.Abstractions;

namespace CollabAkka.Cluster.Tests;

/// <summary>
/// The seeded chaos run (issue 11, acceptance 2). Three node processes on one PostgreSQL schema; six clients, two per
/// node, compete for the locks of a few single-editor documents (<c>lock:acquire</c>, a few Y.Text inserts, each
/// acknowledged only when durable, <c>lock:release</c>) while each round kills a random node (<c>kill -9</c>) or pauses
/// it (<c>SIGSTOP</c> until the others have downed it, then <c>SIGCONT</c>; a downed node leaves by itself) and
/// restarts it. Clients that lose their node reconnect to a live one (as the widget does), give up the lock they held
/// and re-send what was not acknowledged. After every round: every acknowledged insert is in the live and the stored
/// content; no two grants of one lock overlapped (client evidence and the audit trail, fencing tokens increasing); the
/// paused former owner's late write was refused; presence equals the connected clients; every client's document
/// equals the server's. Seed <c>CHAOS_SEED</c> (default <see cref="DefaultSeed"/>), rounds <c>CHAOS_ROUNDS</c> (default 10).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    public const int DefaultSeed = 20261111;

    /// <summary>When set, a failed run keeps its PostgreSQL schema (with COLLAB_TEST_KEEP_DIRS, the nodes' logs too).</summary>
    public const string KeepSchemaOnFailure = "CHAOS_KEEP_SCHEMA";

    [Fact]
    public async Task SeededRoundsOfKillAndPauseLoseNoAcknowledgedUpdateAndNeverGrantALockTwice()
    {
        var seed = Setting("CHAOS_SEED", DefaultSeed);
        var rounds = Setting("CHAOS_ROUNDS", 10);
        var cs = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName();
        var run = new ChaosRun(seed, cs, schema, output);
        run.Log($"chaos run: seed {seed}, {rounds} rounds (replay: CHAOS_SEED={seed} CHAOS_ROUNDS={rounds})");
        var clock = Stopwatch.StartNew();
        var passed = false;
        try
        {
            await using var cluster = await CollabClusterProcesses.StartAsync(3, cs, schema,
                "--Collab:Connections:InvocationsPerSecond=2000", "--Collab:Connections:InvocationBurst=4000");
            run.Log($"cluster up after {clock.Elapsed.TotalSeconds:0.0} s");
            await run.RunAsync(cluster, rounds);
            passed = true;
        }
        finally
        {
            if (passed || Environment.GetEnvironmentVariable(KeepSchemaOnFailure) is not { Length: > 0 })
            {
                await PostgresTestServer.DropSchemaAsync(cs, schema);
            }
            else
            {
                run.Log($"kept schema {schema} for a post-mortem ({KeepSchemaOnFailure})");
            }
        }
        run.Summarize(clock.Elapsed);
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>One lock grant as the clients saw it (times on this process's clock, the nodes' clock too: one machine).</summary>
internal sealed class Grant
{
    public required string Resource { get; init; }
    public required string User { get; init; }
    public required string LockId { get; init; }
    /// <summary>-1 when the client learned of the grant only by releasing it (its acquire's answer was lost).</summary>
    public long Token { get; init; }
    public int Round { get; init; }
    public DateTimeOffset SentAt { get; init; }
    public DateTimeOffset? ReceivedAt { get; init; }
    /// <summary>When a release that answered <c>released</c> was sent: the lock was held at least until then.</summary>
    public DateTimeOffset? ReleaseSentAt { get; set; }
    /// <summary>When the last acknowledged insert under this grant was sent: held at least until then.</summary>
    public DateTimeOffset? LastAckedSentAt { get; set; }
    public string End { get; set; } = "held";

    /// <summary>The interval in which the lock was certainly held: granted by <see cref="ReceivedAt"/>, held until the later proof.</summary>
    public (DateTimeOffset From, DateTimeOffset To)? Certain
    {
        get
        {
            var until = new[] { ReleaseSentAt, LastAckedSentAt }.Max();
            return ReceivedAt is { } from && until is { } to && to > from ? (from, to) : null;
        }
    }

    public override string ToString() =>
        $"{User} lock {LockId[^8..]} token {Token} (round {Round}, asked {SentAt:HH:mm:ss.fff}, granted by {ReceivedAt:HH:mm:ss.fff}, " +
        $"last acked edit sent {LastAckedSentAt:HH:mm:ss.fff}, release sent {ReleaseSentAt:HH:mm:ss.fff}, end: {End})";
}

internal sealed record Ack(string Resource, string Text, string User, DateTimeOffset SentAt, DateTimeOffset AckAt, int Round)
{
    /// <summary>The revision the acknowledgement named, the node the client was connected to, the token of the lock it held.</summary>
    public long? Revision { get; init; }
    public int Node { get; init; } = -1;
    public long Token { get; init; }

    public override string ToString() =>
        $"'{Text}' by {User} via n{Node + 1} under token {Token}, sent {SentAt:HH:mm:ss.fff}, acknowledged {AckAt:HH:mm:ss.fff} as revision {Revision} (round {Round})";
}

/// <summary>The connection went away under an invocation (closed, or no answer within the invocation timeout).</summary>
internal sealed class LostConnectionException(string message) : Exception(message);

/// <summary>The state of one seeded run: cluster, clients, what they saw, and the invariants.</summary>
internal sealed class ChaosRun(int seed, string connectionString, string schema, ITestOutputHelper output)
{
    public const int ClientsPerNode = 2;
    private readonly Random _rng = new(seed);
    private readonly object _gate = new();
    private readonly List<Grant> _grants = [];
    private readonly List<Ack> _acks = [];
    private readonly List<DateTimeOffset> _kills = [];
    private readonly List<string> _visible = [];
    private readonly List<(string Action, double Failover)> _failovers = [];
    private readonly List<string> _roundLines = [];
    private int _lateWritesRefusedWithEvidence;
    private int _pauseRounds;

    public int Seed => seed;
    public CollabClusterProcesses Cluster { get; private set; } = null!;
    public List<ChaosClient> Clients { get; } = [];
    public int Round { get; private set; }
    /// <summary>The node being killed or paused: clients do not reconnect to it.</summary>
    public volatile int Faulted = -1;

    public void Log(string line)
    {
        var stamped = $"[{DateTimeOffset.UtcNow:HH:mm:ss.fff}] {line}";
        try
        {
            output.WriteLine(stamped);
        }
        catch (InvalidOperationException)
        {
            // the test has ended (a client task's last words)
        }
        Console.WriteLine(stamped);
    }

    private readonly List<string> _slow = [];
    private readonly List<string> _observed = [];

    public void Slow(string what)
    {
        lock (_gate)
        {
            _slow.Add(what);
        }
    }

    private readonly HashSet<string> _observedOnce = [];

    public void Observe(string what)
    {
        lock (_gate)
        {
            if (!_observedOnce.Add(what))
            {
                return; // the audit trail is read again every round
            }
            _observed.Add($"round {Round}: {what}");
        }
    }

    private string TakeSlow()
    {
        lock (_gate)
        {
            var slow = _slow.Count == 0 ? "" : $"; slow calls: {string.Join(", ", _slow.Take(6))}{(_slow.Count > 6 ? $" (+{_slow.Count - 6})" : "")}";
            _slow.Clear();
            return slow;
        }
    }

    public void Visible(string what)
    {
        lock (_gate)
        {
            _visible.Add($"round {Round}: {what}");
        }
    }

    public Grant RecordGrant(string resource, string user, string lockId, long token, DateTimeOffset sentAt, DateTimeOffset? receivedAt)
    {
        lock (_gate)
        {
            // A re-acquire that reattached a lock answers the same lock: one grant.
            if (_grants.FirstOrDefault(g => g.LockId == lockId) is { } known)
            {
                return known;
            }
            var grant = new Grant { Resource = resource, User = user, LockId = lockId, Token = token, Round = Round, SentAt = sentAt, ReceivedAt = receivedAt };
            _grants.Add(grant);
            return grant;
        }
    }

    public void RecordAck(Ack ack)
    {
        lock (_gate)
        {
            _acks.Add(ack);
        }
    }

    private int AcksWhere(Func<Ack, bool> predicate)
    {
        lock (_gate)
        {
            return _acks.Count(predicate);
        }
    }

    /// <summary>A node for a (re)connecting client: running, not the faulted one, with the fewest of our clients.</summary>
    public int PickNode(Random rng)
    {
        var candidates = Enumerable.Range(0, 3).Where(n => n != Faulted && Cluster.Nodes[n] is { HasExited: false }).ToList();
        if (candidates.Count == 0)
        {
            return -1;
        }
        var load = candidates.ToDictionary(n => n, n => Clients.Count(c => c.Node == n));
        var fewest = load.Values.Min();
        var best = candidates.Where(n => load[n] == fewest).ToList();
        return best[rng.Next(best.Count)];
    }

    /// <summary>A running node other than the faulted one, for HTTP reads.</summary>
    public CollabNodeProcess LiveNode()
    {
        var n = Enumerable.Range(0, 3).FirstOrDefault(n => n != Faulted && Cluster.Nodes[n] is { HasExited: false }, -1);
        return n < 0 ? throw new InvalidOperationException("no live node") : Cluster[n];
    }

    public async Task RunAsync(CollabClusterProcesses cluster, int rounds)
    {
        Cluster = cluster;
        for (var i = 0; i < 3 * ClientsPerNode; i++)
        {
            var client = new ChaosClient(this, $"chaos{i}", i, _rng.Next());
            await client.ConnectAsync(i % 3);
            Clients.Add(client);
        }
        // Two documents that live through the whole run (each round's failures must not lose what earlier rounds wrote).
        string[] persistent = [$"prescription:chaos-{seed}-a", $"prescription:chaos-{seed}-b"];
        foreach (var client in Clients)
        {
            foreach (var doc in persistent)
            {
                await client.JoinAsync(doc, Deadline(30));
            }
        }
        try
        {
            for (Round = 1; Round <= rounds; Round++)
            {
                var target = _rng.Next(3);
                var pause = _rng.Next(2) == 1;
                try
                {
                    await RoundAsync(target, pause, persistent);
                }
                catch (Exception ex)
                {
                    throw new Xunit.Sdk.XunitException(
                        $"chaos seed {seed}, round {Round} ({(pause ? "SIGSTOP" : "kill -9")} n{target + 1}) failed (replay: CHAOS_SEED={seed} CHAOS_ROUNDS={Round}):\n{ex}");
                }
            }
        }
        finally
        {
            foreach (var client in Clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private int _spurious;

    /// <summary>
    /// Before a round: every node process runs and all three are Up. A node that exited although it was not a chaos
    /// target was downed by the others (a stall past the failure detector: CPU starvation on a busy machine, the price
    /// of the short timings, ARCHITECTURE §12); like a supervisor, restart it and say so.
    /// </summary>
    private async Task EnsureClusterAsync()
    {
        for (var n = 0; n < 3; n++)
        {
            if (Cluster.Nodes[n] is { HasExited: false })
            {
                continue;
            }
            _spurious++;
            Log($"round {Round}: n{n + 1} had exited although no round targeted it (downed by the others after a stall; machine busy?); " +
                $"restarting it. Its log ends:\n{LogTail(n, 12)}");
            await Cluster.KillAsync(n);
            await Cluster.StartNodeAsync(n);
        }
        await Cluster.WaitUpAsync(3);
    }

    /// <summary>Fails the round at once when a node other than the target went away (two failures: no majority left).</summary>
    private void CheckOthersAlive(int target)
    {
        for (var n = 0; n < 3; n++)
        {
            if (n != target && Cluster.Nodes[n] is { HasExited: true })
            {
                throw new Xunit.Sdk.XunitException($"n{n + 1}, not the chaos target, exited during the round (downed after a stall? the " +
                    $"machine may be overloaded); with n{target + 1} down too no majority is left. Its log ends:\n{LogTail(n, 25)}");
            }
        }
    }

    private async Task RoundAsync(int target, bool pause, string[] persistent)
    {
        await EnsureClusterAsync();
        var action = pause ? "SIGSTOP" : "kill -9";
        var roundStart = DateTimeOffset.UtcNow;
        var grantsBefore = CountGrants();
        var retriesBefore = Clients.Sum(c => c.Retries);
        // This round's document lives on the target, so every round moves at least one entity with clients and a lock.
        var hot = await PlaceAsync($"prescription:chaos-{seed}-r{Round}", target);
        var probe = pause ? await LateWriteProbe.OpenAsync(this, await PlaceAsync($"prescription:chaos-{seed}-probe{Round}", target), target) : null;
        string[] docs = [.. persistent, hot];
        foreach (var client in Clients)
        {
            await client.JoinAsync(hot, Deadline(30));
        }
        using var stop = new CancellationTokenSource();
        var load = Clients.Select(c => Task.Run(() => c.RunAsync(docs, stop.Token))).ToList();
        bool Progress(Func<bool> condition)
        {
            // A client that failed an assertion fails the round at once (not at the next deadline).
            if (load.FirstOrDefault(t => t.IsFaulted) is { } failed)
            {
                throw new Xunit.Sdk.XunitException($"a client failed: {failed.Exception!.InnerException}");
            }
            CheckOthersAlive(target);
            return condition();
        }
        await WaitUntilAsync(() => Progress(() => AcksWhere(a => a.AckAt > roundStart) >= 12), 30, "12 acknowledged inserts before the fault");

        var owners = new List<string>();
        foreach (var doc in docs)
        {
            owners.Add((await ClusterInvariants.WhileUnavailableAsync(() => LiveNode().GetResourceStateAsync(doc), TimeSpan.FromSeconds(30)))
                .GetProperty("ownerNodeId").GetString()!);
        }
        Faulted = target;
        var faultAt = DateTimeOffset.UtcNow;
        var detail = "";
        if (!pause)
        {
            await Cluster.KillAsync(target);
            lock (_gate)
            {
                _kills.Add(faultAt);
            }
        }
        else
        {
            Cluster.Pause(target);
            // SIGSTOP is not instantaneous: once a busy node ran long enough after `kill -STOP` returned to store and
            // acknowledge the "late" write. Wait until every thread of the process is stopped (state T in /proc).
            await WaitUntilAsync(() => Stopped(Cluster[target].ProcessId), 10, $"every thread of n{target + 1} stopped");
            var late = probe!.SendLate(); // written into the paused node's socket: it reads it when it wakes up
            await WaitDownedAsync(target);
            var downed = DateTimeOffset.UtcNow - faultAt;
            await probe.WaitMovedAsync(); // a live node's entity claimed a newer epoch of the probe's root
            Cluster.Resume(target);
            var resumedAt = DateTimeOffset.UtcNow;
            await probe.FinishAsync(late);
            // A downed node must leave by itself: once it learns it was downed its ActorSystem shuts down (exit code 3),
            // /ready turns unready at once, and the process exits ~12 s later (its connections are closed only then).
            // The first pause round of a run waits for the exit itself; later ones only until the node says it is no
            // longer ready, then kill it (the exit wait would cost ~10 s a round).
            var node = Cluster.Nodes[target]!;
            var waitExit = _pauseRounds == 0;
            var ready = "not asked";
            var leaving = await WaitAsync(async () =>
            {
                if (node.HasExited)
                {
                    return true;
                }
                if (waitExit)
                {
                    return false;
                }
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    using var answer = await node.Http.GetAsync("/ready", cts.Token);
                    ready = $"{(int)answer.StatusCode}";
                    return !answer.IsSuccessStatusCode;
                }
                catch (HttpRequestException ex)
                {
                    ready = $"refused ({ex.Message})";
                    return true; // it no longer serves HTTP: it is on its way out
                }
                catch (OperationCanceledException)
                {
                    ready = "no answer within 2 s";
                    return false;
                }
            }, TimeSpan.FromSeconds(30));
            var after = DateTimeOffset.UtcNow - resumedAt;
            var exited = node.HasExited;
            Assert.True(leaving, $"the downed node n{target + 1} neither exited nor stopped being ready within 30 s of SIGCONT (last /ready: {ready}); " +
                                 $"its log ({Cluster.DataDirectoryOf(target)}/logs) ends:\n{LogTail(target, 25)}");
            await Cluster.KillAsync(target); // clears the slot (and kills it when it has not exited yet)
            if (!exited)
            {
                // Killed on its way out: its audit buffer goes with it, as with a kill -9 at the moment it was paused
                // (it may have stopped with a grant's record still buffered). A node that exits by itself flushes it,
                // and that stays checked.
                lock (_gate)
                {
                    _kills.Add(faultAt);
                }
            }
            detail = $", downed after {downed.TotalSeconds:0.0} s, paused {(resumedAt - faultAt).TotalSeconds:0.0} s, " +
                     (exited ? $"exited by itself {after.TotalSeconds:0.0} s after SIGCONT" : $"unready {after.TotalSeconds:0.0} s after SIGCONT (then killed)");
        }
        // Failover: the first acknowledged insert into the target's document sent after the fault.
        await WaitUntilAsync(() => Progress(() => AcksWhere(a => a.Resource == hot && a.SentAt > faultAt) > 0), 60, $"an acknowledged insert into {hot} after the {action}");
        Ack first;
        lock (_gate)
        {
            first = _acks.Where(a => a.Resource == hot && a.SentAt > faultAt).MinBy(a => a.AckAt)!;
        }
        var failover = (first.AckAt - faultAt).TotalSeconds;
        lock (_gate)
        {
            _failovers.Add((action, failover));
        }

        var restart = Stopwatch.StartNew();
        await Cluster.StartNodeAsync(target);
        Faulted = -1;
        await Cluster.WaitUpAsync(3);
        var restartedAt = DateTimeOffset.UtcNow;
        var restarted = restart.Elapsed.TotalSeconds;
        await WaitUntilAsync(() => Progress(() => AcksWhere(a => a.SentAt > restartedAt) >= 6), 30, "6 acknowledged inserts after the restart");
        await stop.CancelAsync();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(90));

        // Quiesce: every client gives up its lock and pushes what it typed and was not acknowledged, then syncs.
        foreach (var client in Clients)
        {
            await client.SettleAsync(docs, Deadline(60));
        }
        foreach (var client in Clients)
        {
            await client.SyncAllAsync(docs, Deadline(30));
        }
        if (probe is not null)
        {
            await probe.DisposeAsync(); // its connection is gone with the downed node; it gives the probe lock back
        }

        await CheckContentAsync(docs);
        await CheckPresenceAsync(docs);
        var (audited, unverified) = await CheckLocksAsync();
        if (probe is not null)
        {
            _pauseRounds++;
            if (await probe.CheckAsync())
            {
                _lateWritesRefusedWithEvidence++;
            }
        }

        var acks = AcksWhere(a => a.Round == Round);
        var line = $"seed {seed} round {Round}: {action} n{target + 1} (owners {string.Join(",", owners)}){detail}; failover {failover:0.00} s; " +
                   $"restart {restarted:0.0} s; {acks} acknowledged inserts, {CountGrants() - grantsBefore} lock grants, " +
                   $"{Clients.Sum(c => c.Retries) - retriesBefore} retries, reconnects {string.Join("/", Clients.Select(c => c.Reconnects))}; " +
                   $"audit {audited} grants checked, {unverified} without an audited end{probe?.Summary}{TakeSlow()}";
        _roundLines.Add(line);
        Log(line);

        foreach (var client in Clients)
        {
            await client.LeaveAsync(hot, Deadline(30));
        }
    }

    /// <summary>The last rendered messages of a node's NDJSON log (for failure messages), without the probes' requests.</summary>
    private string LogTail(int node, int lines)
    {
        var logs = Path.Combine(Cluster.DataDirectoryOf(node), "logs");
        if (!Directory.Exists(logs))
        {
            return "(no log)";
        }
        var tail = new Queue<string>();
        foreach (var file in Directory.GetFiles(logs, "*.ndjson").Order(StringComparer.Ordinal))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                try
                {
                    using var json = JsonDocument.Parse(line);
                    var root = json.RootElement;
                    var message = root.TryGetProperty("RenderedMessage", out var rendered) ? rendered.GetString() ?? "" : "";
                    if (message.StartsWith("HTTP \"GET\" \"/ready\"", StringComparison.Ordinal) ||
                        message.StartsWith("HTTP \"GET\" \"/health\"", StringComparison.Ordinal))
                    {
                        continue; // the test's own polling: it would push the cluster's lines out of the tail
                    }
                    tail.Enqueue($"{root.GetProperty("Timestamp").GetString()} {root.GetProperty("Level").GetString()} " +
                                 $"{(root.TryGetProperty("RenderedMessage", out var m) ? m.GetString() : "")}".Replace('\n', ' '));
                }
                catch (JsonException)
                {
                    continue;
                }
                while (tail.Count > lines)
                {
                    tail.Dequeue();
                }
            }
        }
        return string.Join('\n', tail.Select(l => l.Length > 300 ? l[..300] : l));
    }

    /// <summary>Whether every thread of the process is in the stopped state (Linux /proc/&lt;pid&gt;/task/*/stat).</summary>
    private static bool Stopped(int pid)
    {
        var tasks = Directory.GetDirectories($"/proc/{pid}/task");
        return tasks.Length > 0 && tasks.All(task =>
        {
            var stat = File.ReadAllText(Path.Combine(task, "stat"));
            var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart()[0];
            return state is 'T' or 't';
        });
    }

    private int CountGrants()
    {
        lock (_gate)
        {
            return _grants.Count;
        }
    }

    /// <summary>A resource id (prefix-k) whose entity lives on <paramref name="target"/> (reading its state activates it there).</summary>
    public Task<string> PlaceAsync(string prefix, int target) => ClusterInvariants.PlaceOnAsync(LiveNode(), prefix, $"n{target + 1}", candidates: 60);

    /// <summary>Until both other nodes no longer see <paramref name="target"/> Up (the split brain resolver downed it).</summary>
    private async Task WaitDownedAsync(int target)
    {
        var others = Enumerable.Range(0, 3).Where(n => n != target).ToList();
        await WaitUntilAsync(async () =>
        {
            foreach (var n in others)
            {
                var view = await Cluster[n].Http.GetFromJsonAsync<JsonElement>("/cluster/members");
                if (view.GetProperty("members").EnumerateArray().Any(m => m.GetProperty("nodeId").GetString() == $"n{target + 1}" &&
                                                                         m.GetProperty("status").GetString() is "Up" or "Joining" or "WeaklyUp"))
                {
                    return false;
                }
            }
            return true;
        }, 30, $"n{target + 1} downed by the others while paused");
    }

    // ---- invariants -------------------------------------------------------------------------------------------------

    /// <summary>Invariants 1 and 5: every acknowledged insert is in the live content and in the stored one; every client has exactly it.</summary>
    private async Task CheckContentAsync(string[] docs)
    {
        foreach (var doc in docs)
        {
            List<string> acked;
            lock (_gate)
            {
                acked = _acks.Where(a => a.Resource == doc).Select(a => a.Text).ToList();
            }
            var text = await ClusterInvariants.AssertAcknowledgedContentAsync(LiveNode(), connectionString, schema, doc, acked);
            foreach (var client in Clients)
            {
                var mine = client.Text(doc);
                Assert.True(mine == text, $"{doc}: {client.User}'s document differs from the server's:\nclient {mine}\nserver {text}");
            }
        }
    }

    private static string Notes(JsonElement content) => ClusterInvariants.TextOf(content);

    /// <summary>Invariant 4: each document's members are exactly the connected clients (no ghost of a lost connection).</summary>
    private async Task CheckPresenceAsync(string[] docs)
    {
        var expected = Clients.Select(c => c.User).ToList();
        foreach (var doc in docs)
        {
            await ClusterInvariants.AssertPresenceAsync([LiveNode()], doc, expected, TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>
    /// Invariant 2, from the clients' evidence and from the audit trail: per resource, fencing tokens increase with
    /// time, and no two grants were held at one moment. Returns (audited grants checked, pairs whose first end is not audited).
    /// </summary>
    private async Task<(int Audited, int Unverified)> CheckLocksAsync()
    {
        List<Grant> grants;
        List<DateTimeOffset> kills;
        lock (_gate)
        {
            grants = [.. _grants];
            kills = [.. _kills];
        }
        foreach (var byResource in grants.Where(g => g.Token > 0).GroupBy(g => g.Resource))
        {
            CheckClientGrants(byResource.Key, [.. byResource]);
        }

        // The audit trail: LOCK_ACQUIRED and the events that end a lock, with the node's timestamps.
        var resources = grants.Select(g => g.Resource).Distinct().ToArray();
        bool Exempt(DateTimeOffset from, DateTimeOffset to) => kills.Any(k => k >= from && k <= to);
        IReadOnlyList<AuditedLockGrant> audit = [];
        // Audit records are buffered (a few ms): wait until every grant the clients saw is there, unless a kill -9 may have lost it.
        _ = await WaitAsync(async () =>
        {
            audit = await ClusterInvariants.ReadLockGrantsAsync(connectionString, schema, resources);
            var ids = audit.Select(l => l.LockId).ToHashSet();
            return grants.All(g => ids.Contains(g.LockId) || Exempt(g.SentAt, (g.ReceivedAt ?? g.ReleaseSentAt ?? g.SentAt).AddSeconds(5)));
        }, TimeSpan.FromSeconds(15));
        var byId = audit.ToDictionary(l => l.LockId);
        foreach (var g in grants)
        {
            if (!byId.TryGetValue(g.LockId, out var l))
            {
                Assert.True(Exempt(g.SentAt, (g.ReceivedAt ?? g.ReleaseSentAt ?? g.SentAt).AddSeconds(5)), $"grant missing from the audit trail, no kill near it: {g}");
                continue;
            }
            if (g.Token > 0 && l.Token != g.Token)
            {
                Assert.Fail($"the audit has token {l.Token} for {g}");
            }
            if (g.ReceivedAt is { } received && (l.AcquiredAt < g.SentAt.AddMilliseconds(-50) || l.AcquiredAt > received.AddMilliseconds(50)))
            {
                Assert.Fail($"audited LOCK_ACQUIRED at {l.AcquiredAt:HH:mm:ss.fff} is outside the client's acquire ({g.SentAt:HH:mm:ss.fff}–{received:HH:mm:ss.fff}): {g}");
            }
            if (g.ReleaseSentAt is { } released && l.EndedAt is { } ended && ended < released.AddMilliseconds(-50))
            {
                Assert.Fail($"audited end {ended:HH:mm:ss.fff} ({l.EndReason}) before the release the client saw succeed: {g}");
            }
        }
        foreach (var late in audit.Where(l => l.AuditedAt - l.AcquiredAt > TimeSpan.FromSeconds(1)))
        {
            Observe($"LOCK_ACQUIRED of {late.LockId[^8..]} ({late.Resource}) audited {(late.AuditedAt - late.AcquiredAt).TotalSeconds:0.0} s after the grant");
        }
        var unverified = ClusterInvariants.AssertSingleLockHolder(audit, Exempt);

        // The store: the last token of each resource is at least every token handed out.
        foreach (var byResource in grants.Where(g => g.Token > 0).GroupBy(g => g.Resource))
        {
            var stored = await ClusterInvariants.LastFencingTokenAsync(connectionString, schema, byResource.Key);
            Assert.True(stored >= byResource.Max(g => g.Token), $"{byResource.Key}: fencing_tokens.last_token {stored} is below a granted token {byResource.Max(g => g.Token)}");
        }
        return (audit.Count, unverified);
    }

    /// <summary>
    /// The clients' evidence for one resource, for every pair of grants in O(n log n) (the run grows to tens of
    /// thousands of grants; a pairwise check took minutes per round by round 35): tokens are unique; a grant received
    /// before another was asked for has the smaller token; no two intervals of certain holding overlap.
    /// </summary>
    internal static void CheckClientGrants(string resource, IReadOnlyList<Grant> grants)
    {
        var byToken = grants.OrderBy(g => g.Token).ToList();
        for (var i = 1; i < byToken.Count; i++)
        {
            if (byToken[i - 1].Token == byToken[i].Token)
            {
                Assert.Fail($"{resource}: two grants with token {byToken[i].Token}:\n{byToken[i - 1]}\n{byToken[i]}");
            }
        }
        // From the largest token down, the earliest answer among larger tokens: it must not precede this one's ask.
        Grant? earliest = null;
        for (var i = byToken.Count - 1; i >= 0; i--)
        {
            var b = byToken[i];
            if (earliest is { ReceivedAt: { } granted } && granted < b.SentAt)
            {
                Assert.Fail($"{resource}: a later grant has a smaller fencing token:\n{earliest}\n{b}");
            }
            if (b.ReceivedAt is { } received && (earliest?.ReceivedAt is not { } known || received < known))
            {
                earliest = b;
            }
        }
        // Certain intervals by start: each must start no earlier than every earlier one ended.
        Grant? longest = null;
        foreach (var (g, x) in grants.Select(g => (g, g.Certain)).Where(p => p.Certain is not null).Select(p => (p.g, p.Certain!.Value))
                     .OrderBy(p => p.Value.From).ThenBy(p => p.Value.To))
        {
            if (longest?.Certain is { } y && y.To > x.From)
            {
                Assert.Fail($"{resource}: two holders at once (both grants certainly held {Max(x.From, y.From):HH:mm:ss.fff}–{Min(x.To, y.To):HH:mm:ss.fff}):\n{longest}\n{g}");
            }
            if (longest?.Certain is not { } z || x.To > z.To)
            {
                longest = g;
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    public async Task<long> CountStoredUpdatesAsync(string resource)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand($"SELECT COUNT(*) FROM \"{schema}\".doc_updates WHERE resource_id = @r", connection);
        count.Parameters.AddWithValue("r", resource);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public void Summarize(TimeSpan elapsed)
    {
        string Figures(string action)
        {
            var times = _failovers.Where(f => f.Action == action).Select(f => f.Failover).Order().ToList();
            if (times.Count == 0)
            {
                return $"{action}: no rounds";
            }
            var median = times.Count % 2 == 1 ? times[times.Count / 2] : (times[(times.Count / 2) - 1] + times[times.Count / 2]) / 2;
            return $"{action} ({times.Count} rounds) -> first acknowledged insert: min {times[0]:0.00} s, median {median:0.00} s, max {times[^1]:0.00} s";
        }
        Log($"chaos seed {seed}: {Round - 1} rounds in {elapsed.TotalSeconds:0} s; {_acks.Count} acknowledged inserts, {_grants.Count} lock grants; " +
            $"{Figures("kill -9")}; {Figures("SIGSTOP")}; late writes refused with evidence in {_lateWritesRefusedWithEvidence} of {_pauseRounds} pause rounds; " +
            $"nodes downed without being a target (restarted before the next round): {_spurious}; " +
            $"errors a user would have seen: {(_visible.Count == 0 ? "none" : string.Join(" | ", _visible.Take(20)))}; " +
            $"observed: {(_observed.Count == 0 ? "nothing else" : string.Join(" | ", _observed.Take(20)))}");
    }

    // ---- waiting ----------------------------------------------------------------------------------------------------

    public static DateTime Deadline(int seconds) => DateTime.UtcNow.AddSeconds(seconds);

    public static Task WaitUntilAsync(Func<bool> condition, int seconds, string what) => WaitUntilAsync(() => Task.FromResult(condition()), seconds, what);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds, string what)
    {
        if (!await WaitAsync(condition, TimeSpan.FromSeconds(seconds)))
        {
            throw new TimeoutException($"not within {seconds} s: {what}");
        }
    }

    public static Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout) => WaitAsync(() => Task.FromResult(condition()), timeout);

    /// <summary>Polls an observable condition until it holds or the deadline passes (reads that fail meanwhile count as "not yet").</summary>
    public static Task<bool> WaitAsync(Func<Task<bool>> condition, TimeSpan timeout) => ClusterInvariants.PollAsync(condition, timeout);

    /// <summary>
    /// Invariant 3: a client on the node that owns the probe's document holds its lock and has one acknowledged insert.
    /// While the node is stopped it sends another; the node reads it when it wakes up, after a live node has claimed a
    /// newer epoch of the root. That late write must be refused: not acknowledged, not in the content, not in the store.
    /// </summary>
    internal sealed class LateWriteProbe : IAsyncDisposable
    {
        private readonly ChaosRun _run;
        private readonly CollabTestClient _client;
        private readonly string _user;
        private readonly int _target;
        private readonly long _epoch;
        private readonly byte[] _late;
        private string _answer = "none";
        private bool _lateAcked;

        private LateWriteProbe(ChaosRun run, CollabTestClient client, string user, string doc, int target, long epoch, byte[] late)
        {
            _run = run;
            _client = client;
            _user = user;
            Doc = doc;
            _target = target;
            _epoch = epoch;
            _late = late;
        }

        public string Doc { get; }
        private string Before => $"probe-before-{_run.Round};";
        private string Late => $"probe-late-{_run.Round};";
        public string Summary { get; private set; } = "";

        public static async Task<LateWriteProbe> OpenAsync(ChaosRun run, string doc, int target)
        {
            var user = $"probe{run.Round}";
            var client = await run.Cluster[target].ConnectAsync(user, $"Dr. Probe {run.Round}");
            var asked = DateTimeOffset.UtcNow;
            var joined = await client.JoinAsync(doc, "editor");
            Assert.True(joined.Success && joined.Data.GetProperty("mode").GetString() == "editor", $"probe join: {joined.Error?.Message} {joined.Data}");
            var lk = joined.Data.GetProperty("lock");
            run.RecordGrant(doc, user, lk.GetProperty("lockId").GetString()!, lk.GetProperty("fencingToken").GetInt64(), asked, DateTimeOffset.UtcNow);
            var ydoc = new YDoc();
            var before = Capture(ydoc, $"probe-before-{run.Round};");
            var sentAt = DateTimeOffset.UtcNow;
            var ack = await client.UpdateAsync(doc, before);
            Assert.True(ack.Success && !IsPending(ack), $"probe's first insert: {ack.Error?.Message}");
            run.RecordAck(new Ack(doc, $"probe-before-{run.Round};", user, sentAt, DateTimeOffset.UtcNow, run.Round));
            var epoch = (await run.Cluster[target].GetResourceStateAsync(doc)).GetProperty("epoch").GetInt64();
            return new LateWriteProbe(run, client, user, doc, target, epoch, Capture(ydoc, $"probe-late-{run.Round};"));
        }

        public Task<HubResponse> SendLate() => _client.UpdateAsync(Doc, _late);

        /// <summary>Until a live node's entity owns the probe's root with a newer epoch (its reads activate it there).</summary>
        public Task WaitMovedAsync() => WaitUntilAsync(async () =>
        {
            var state = await _run.LiveNode().GetResourceStateAsync(Doc);
            return state.GetProperty("ownerNodeId").GetString() != $"n{_target + 1}" && state.GetProperty("epoch").GetInt64() > _epoch;
        }, 30, $"{Doc} owned by a live node with an epoch above {_epoch}");

        public async Task FinishAsync(Task<HubResponse> late)
        {
            try
            {
                var answer = await late.WaitAsync(TimeSpan.FromSeconds(30));
                _lateAcked = answer.Success && !IsPending(answer);
                _answer = answer.Success ? $"acknowledged (revision {answer.NewRevision})" : $"{answer.Error!.Code}: {answer.Error.Message}";
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                _answer = $"no answer ({ex.GetType().Name}: the connection closed)";
            }
        }

        /// <summary>Asserts the refusal; true when the node's own evidence (its answer, or its log) shows it refused the write.</summary>
        public async Task<bool> CheckAsync()
        {
            var content = Notes(await _run.LiveNode().GetContentAsync(Doc));
            var stored = await _run.CountStoredUpdatesAsync(Doc);
            Assert.Contains(Before, content, StringComparison.Ordinal);
            Assert.False(_lateAcked, $"the paused former owner acknowledged a write after a newer epoch was claimed: {_answer}");
            Assert.True(!content.Contains(Late, StringComparison.Ordinal), $"the paused former owner's late write is in the content: {content}");
            Assert.True(stored == 1, $"{Doc}: {stored} updates stored, only the one acknowledged before the pause may be");
            var logged = FencedInLog();
            var refused = _answer.Contains("newer owner", StringComparison.Ordinal) || logged;
            Summary = $"; late write: {_answer}, fenced in n{_target + 1}'s log: {(logged ? "yes" : "no")}, stored updates {stored}";
            return refused;
        }

        private bool FencedInLog()
        {
            var logs = Path.Combine(_run.Cluster.DataDirectoryOf(_target), "logs");
            if (!Directory.Exists(logs))
            {
                return false;
            }
            var root = Doc;
            foreach (var file in Directory.GetFiles(logs, "*.ndjson"))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                while (reader.ReadLine() is { } line)
                {
                    if (line.Contains("was fenced", StringComparison.Ordinal) && line.Contains(root, StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
            }
            // Give the probe's lock back from a new connection (its old one went with the downed node).
            await using var again = await _run.LiveNode().ConnectAsync(_user, $"Dr. Probe {_run.Round}");
            var until = Deadline(30);
            while (true)
            {
                var sentAt = DateTimeOffset.UtcNow;
                var released = await again.ReleaseLockAsync(Doc);
                if (released.Success)
                {
                    var grant = _run.RecordGrant(Doc, _user, released.Data.GetProperty("lockId").GetString()!, -1, sentAt, null);
                    grant.ReleaseSentAt = sentAt;
                    grant.End = "released after the pause";
                    return;
                }
                Assert.True(released.Error!.Code == "UNAVAILABLE" && DateTime.UtcNow < until, $"probe release: {released.Error.Code} {released.Error.Message}");
                await Task.Delay(100);
            }
        }
    }

    public static bool IsPending(HubResponse answer) =>
        answer.Data.ValueKind == JsonValueKind.Object && answer.Data.TryGetProperty("pending", out var p) && p.ValueKind == JsonValueKind.True;

    public static byte[] Capture(YDoc doc, string text)
    {
        byte[]? update = null;
        void Keep(object? sender, YUpdateEventArgs e) => update = e.Update;
        doc.UpdateProduced += Keep;
        try
        {
            var t = doc.GetText("notes");
            t.Insert(t.Length, text);
        }
        finally
        {
            doc.UpdateProduced -= Keep;
        }
        return update!;
    }
}

/// <summary>
/// A client of the chaos run: one user, one connection at a time, joined to every document as viewer; it takes a
/// lock, types, releases, like a clinician moving between forms. It does what the widget does when its node goes
/// away: reconnect to a live node, rejoin, give up the lock it held, and send again what was not acknowledged.
/// </summary>
internal sealed class ChaosClient(ChaosRun run, string user, int index, int seed) : IAsyncDisposable
{
    private static readonly TimeSpan InvokeTimeout = TimeSpan.FromSeconds(15); // above the router's ask timeout (10 s)
    private readonly Random _rng = new(seed);
    private readonly Dictionary<string, YDoc> _docs = [];
    private readonly Dictionary<string, List<(string Text, byte[] Update)>> _unacked = [];
    private readonly Dictionary<string, Grant> _held = [];
    private readonly Dictionary<string, DateTimeOffset> _acquiring = []; // acquires sent, not answered: when
    private readonly List<string> _joined = [];
    private CollabTestClient? _connection;
    private int _typed;

    public string User => user;
    public volatile int Node = -1;
    public int Retries { get; private set; }
    public int Reconnects { get; private set; }

    public string Text(string doc) => _docs.TryGetValue(doc, out var d) ? d.GetText("notes").ToString() : "";

    public async Task ConnectAsync(int node)
    {
        _connection = await run.Cluster[node].ConnectAsync(user, $"Dr. Chaos {index}").WaitAsync(TimeSpan.FromSeconds(15));
        Node = node;
    }

    private async Task<HubResponse> CallAsync(string what, Func<CollabTestClient, Task<HubResponse>> call)
    {
        var connection = _connection;
        if (connection is null || connection.Closed.IsCompleted || connection.Closing.IsCompleted)
        {
            throw new LostConnectionException("the connection is closed");
        }
        var clock = Stopwatch.StartNew();
        var outcome = "no answer";
        try
        {
            var answer = await call(connection).WaitAsync(InvokeTimeout);
            outcome = answer.Success ? "ok" : answer.Error!.Code;
            return answer;
        }
        catch (Exception ex) when (ex is not LostConnectionException)
        {
            outcome = ex.GetType().Name;
            throw new LostConnectionException($"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            if (clock.Elapsed > SlowCall)
            {
                run.Slow($"{user} {what} via n{Node + 1}: {clock.Elapsed.TotalSeconds:0.0} s ({outcome})");
            }
        }
    }

    /// <summary>Invocations slower than this are reported with the round (where failover time goes).</summary>
    private static readonly TimeSpan SlowCall = TimeSpan.FromSeconds(3);

    public async Task JoinAsync(string doc, DateTime until)
    {
        _docs.TryAdd(doc, new YDoc());
        _unacked.TryAdd(doc, []);
        if (!_joined.Contains(doc))
        {
            _joined.Add(doc);
        }
        await WithConnectionAsync(() => JoinOnceAsync(doc, until), until);
    }

    private async Task JoinOnceAsync(string doc, DateTime until)
    {
        while (true)
        {
            var joined = await CallAsync("resource:join " + doc, c => c.JoinAsync(doc, "viewer"));
            if (joined.Success || joined.Error!.Code == "ALREADY_JOINED")
            {
                return;
            }
            Assert.True(joined.Error.Code == "UNAVAILABLE" && DateTime.UtcNow < until, $"{user} join {doc}: {joined.Error.Code} {joined.Error.Message}");
            Retries++;
            await Task.Delay(100);
        }
    }

    public async Task LeaveAsync(string doc, DateTime until)
    {
        _joined.Remove(doc);
        await WithConnectionAsync(async () =>
        {
            while (true)
            {
                var left = await CallAsync("resource:leave " + doc, c => c.LeaveAsync(doc));
                if (left.Success || left.Error!.Code == "NOT_JOINED")
                {
                    return;
                }
                Assert.True(left.Error.Code == "UNAVAILABLE" && DateTime.UtcNow < until, $"{user} leave {doc}: {left.Error.Code} {left.Error.Message}");
                Retries++;
                await Task.Delay(100);
            }
        }, until);
    }

    /// <summary>Runs <paramref name="body"/>, reconnecting (and running it again) when the connection goes away under it.</summary>
    private async Task WithConnectionAsync(Func<Task> body, DateTime until)
    {
        while (true)
        {
            try
            {
                await body();
                return;
            }
            catch (LostConnectionException ex)
            {
                Assert.True(DateTime.UtcNow < until, $"{user}: connection lost and not recovered in time: {ex.Message}");
                await ReconnectAsync(until);
            }
        }
    }

    /// <summary>The load: until <paramref name="stop"/>, take a random document's lock, type 1–3 inserts, release.</summary>
    public async Task RunAsync(string[] docs, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var doc = docs[_rng.Next(docs.Length)];
                var grant = await AcquireAsync(doc);
                if (grant is not null)
                {
                    var ok = await FlushAsync(doc, stop);
                    for (var n = _rng.Next(1, 4); ok && n > 0 && !stop.IsCancellationRequested; n--)
                    {
                        Type(doc);
                        ok = await FlushAsync(doc, stop);
                    }
                    await ReleaseAsync(doc, ChaosRun.Deadline(30));
                }
                await Task.Delay(_rng.Next(20, 80)); // think time between two forms (pacing, not synchronization)
            }
            catch (LostConnectionException)
            {
                await ReconnectAsync(ChaosRun.Deadline(90));
            }
        }
    }

    private void Type(string doc)
    {
        var text = $"{user}.{++_typed};";
        _unacked[doc].Add((text, ChaosRun.Capture(_docs[doc], text)));
    }

    /// <summary>Acquires; the grant, or null when someone else holds it (or the cluster is busy moving it).</summary>
    private async Task<Grant?> AcquireAsync(string doc)
    {
        var sentAt = DateTimeOffset.UtcNow;
        _acquiring[doc] = sentAt;
        var answer = await CallAsync("lock:acquire " + doc, c => c.AcquireLockAsync(doc));
        _acquiring.Remove(doc);
        if (answer.Success)
        {
            var grant = run.RecordGrant(doc, user, answer.Data.GetProperty("lockId").GetString()!, answer.Data.GetProperty("fencingToken").GetInt64(),
                sentAt, DateTimeOffset.UtcNow);
            if (_held.TryGetValue(doc, out var before) && before != grant)
            {
                before.End = "lost (a new grant replaced it)";
            }
            _held[doc] = grant;
            return grant;
        }
        switch (answer.Error!.Code)
        {
            case "LOCK_HELD" or "MAX_EDITORS_REACHED":
                break;
            case "UNAVAILABLE":
                Retries++;
                break;
            case "NOT_JOINED":
                Retries++;
                await JoinOnceAsync(doc, ChaosRun.Deadline(30));
                break;
            default:
                run.Visible($"{user} lock:acquire {doc}: {answer.Error.Code} {answer.Error.Message}");
                break;
        }
        return null;
    }

    /// <summary>Sends what was typed into <paramref name="doc"/> and not acknowledged, oldest first, under the lock held.</summary>
    private async Task<bool> FlushAsync(string doc, CancellationToken stop, DateTime? deadline = null)
    {
        var until = deadline ?? ChaosRun.Deadline(30);
        var queue = _unacked[doc];
        while (queue.Count > 0)
        {
            var (text, update) = queue[0];
            var sentAt = DateTimeOffset.UtcNow;
            var answer = await CallAsync("doc:update " + doc, c => c.UpdateAsync(doc, update));
            if (answer.Success && !ChaosRun.IsPending(answer))
            {
                queue.RemoveAt(0);
                var grant = _held.GetValueOrDefault(doc);
                run.RecordAck(new Ack(doc, text, user, sentAt, DateTimeOffset.UtcNow, run.Round)
                {
                    Revision = answer.NewRevision, Node = Node, Token = grant?.Token ?? 0,
                });
                if (grant is not null)
                {
                    grant.LastAckedSentAt = sentAt;
                }
                continue;
            }
            if (answer.Success)
            {
                // Kept in memory only: it depends on something the server lacks. Cannot happen when we send in order.
                run.Observe($"{user} {doc} via n{Node + 1}: update answered pending (kept in memory, not stored)");
                return false;
            }
            switch (answer.Error!.Code)
            {
                case "UNAVAILABLE":
                    Retries++;
                    break;
                case "PERMISSION_DENIED":
                    // The entity moved and this connection was re-registered as the viewer it joined as: acquiring again
                    // reattaches the lock restored from the store (same lock, same token) — or says it is gone.
                    Retries++;
                    var held = _held.GetValueOrDefault(doc);
                    var again = await AcquireAsync(doc);
                    if (again is null)
                    {
                        if (held is not null)
                        {
                            held.End = "lost (an edit was refused: not the holder)";
                            _held.Remove(doc);
                        }
                        return false;
                    }
                    break;
                case "NOT_JOINED":
                    Retries++;
                    await JoinOnceAsync(doc, until);
                    break;
                default:
                    run.Visible($"{user} doc:update {doc}: {answer.Error.Code} {answer.Error.Message}");
                    return false;
            }
            if (DateTime.UtcNow > until || stop.IsCancellationRequested)
            {
                return false; // stays queued: sent again when this client next holds the lock
            }
            await Task.Delay(100); // retry pacing
        }
        return true;
    }

    private async Task ReleaseAsync(string doc, DateTime until)
    {
        if (_held.ContainsKey(doc))
        {
            await ReleaseAsync(doc, until, "released");
        }
    }

    /// <summary>lock:release; records how the grant we held (or one we did not know of) ended.</summary>
    private async Task ReleaseAsync(string doc, DateTime until, string how)
    {
        var grant = _held.GetValueOrDefault(doc);
        while (true)
        {
            var sentAt = DateTimeOffset.UtcNow;
            var answer = await CallAsync("lock:release " + doc, c => c.ReleaseLockAsync(doc));
            if (answer.Success)
            {
                var lockId = answer.Data.GetProperty("lockId").GetString()!;
                // An acquire whose answer was lost can have been granted: then we learn of the grant only now.
                if (grant?.LockId != lockId)
                {
                    if (grant is not null)
                    {
                        grant.End = $"lost (the release ended another lock, {lockId[^8..]})";
                    }
                    // Granted at some moment after the lost acquire was sent (or after an earlier one of ours).
                    grant = run.RecordGrant(doc, user, lockId, -1, _acquiring.GetValueOrDefault(doc, sentAt), null);
                }
                grant.ReleaseSentAt = sentAt;
                grant.End = how;
                break;
            }
            if (answer.Error!.Code == "LOCK_NOT_HELD")
            {
                if (grant is not null)
                {
                    grant.End = $"lost (not held when {how})";
                }
                break;
            }
            Assert.True(answer.Error.Code == "UNAVAILABLE" && DateTime.UtcNow < until, $"{user} lock:release {doc} ({how}): {answer.Error.Code} {answer.Error.Message}");
            Retries++;
            await Task.Delay(100);
        }
        _held.Remove(doc);
    }

    /// <summary>A new connection to a live node; rejoin; give up the locks held or asked for (the answer may have been lost).</summary>
    private async Task ReconnectAsync(DateTime until)
    {
        while (true)
        {
            var old = _connection;
            _connection = null;
            Node = -1;
            if (old is not null)
            {
                try
                {
                    await old.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2));
                }
                catch (Exception)
                {
                    // a stopped node does not answer the close
                }
            }
            Assert.True(DateTime.UtcNow < until, $"{user} could not reconnect in time");
            var node = run.PickNode(_rng);
            if (node < 0)
            {
                await Task.Delay(100);
                continue;
            }
            try
            {
                await ConnectAsync(node);
                Reconnects++;
                foreach (var doc in _joined.ToList())
                {
                    await JoinOnceAsync(doc, until);
                }
                foreach (var doc in _held.Keys.Union(_acquiring.Keys).ToList())
                {
                    await ReleaseAsync(doc, until, "released after reconnecting");
                }
                _acquiring.Clear();
                return;
            }
            catch (Exception ex) when (ex is LostConnectionException or HttpRequestException or TimeoutException or InvalidOperationException
                                           or NodeClosingException or IOException or System.Net.WebSockets.WebSocketException or HubConnectRefusedException)
            {
                await Task.Delay(100); // that node went away too (or is not up yet): try another
            }
        }
    }

    /// <summary>After the load: release, then push every unacknowledged insert (taking each document's lock in turn).</summary>
    public async Task SettleAsync(string[] docs, DateTime until)
    {
        await WithConnectionAsync(async () =>
        {
            foreach (var doc in _held.Keys.ToList())
            {
                await ReleaseAsync(doc, until);
            }
            foreach (var doc in docs.Where(d => _unacked[d].Count > 0))
            {
                while (_unacked[doc].Count > 0)
                {
                    Assert.True(DateTime.UtcNow < until, $"{user} could not send its {_unacked[doc].Count} unacknowledged inserts into {doc} in time");
                    if (await AcquireAsync(doc) is not null)
                    {
                        await FlushAsync(doc, CancellationToken.None, until);
                        await ReleaseAsync(doc, until);
                    }
                    else
                    {
                        await Task.Delay(100); // someone else holds it: another client settling
                    }
                }
            }
        }, until);
    }

    /// <summary>doc:sync of every document: the client then has what the server has.</summary>
    public Task SyncAllAsync(string[] docs, DateTime until) => WithConnectionAsync(async () =>
    {
        foreach (var doc in docs)
        {
            while (true)
            {
                var sync = await CallAsync("doc:sync " + doc, c => c.SyncAsync(doc, _docs[doc].EncodeStateVector()));
                if (sync.Success)
                {
                    _docs[doc].ApplyUpdate(Convert.FromBase64String(sync.Data.GetProperty("update").GetString()!));
                    break;
                }
                Assert.True(sync.Error!.Code is "UNAVAILABLE" or "NOT_JOINED" && DateTime.UtcNow < until, $"{user} doc:sync {doc}: {sync.Error.Code} {sync.Error.Message}");
                if (sync.Error.Code == "NOT_JOINED")
                {
                    await JoinOnceAsync(doc, until);
                }
                Retries++;
                await Task.Delay(100);
            }
        }
    }, until);

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            try
            {
                await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
            }
        }
    }
}
