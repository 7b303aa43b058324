// Lock round-trip benchmark (issue 3, acceptance 4): lock:acquire -> ApiResponse and lock:release -> ApiResponse
// through the hub of one node, under open-loop load (pairs are started on a fixed schedule, whether or not
// earlier ones have answered, so a slow server shows up as latency instead of a lower send rate).
//
//   dotnet run -c Release --project bench/Locks.Bench [-- options]
//     --rate N            acquire/release pairs per second (default 1000)
//     --duration S        measured seconds (default 30)        --warmup S   unmeasured seconds first (default 5)
//     --clients N         connections, one user each (default 100)
//     --resources N       resources per client (default 4); every resource is its own root entity
//     --op pairs|heartbeat|notheld|store
//                         pairs: lock:acquire then lock:release (default)
//                         heartbeat: two `heartbeat` invocations per pair (SignalR + hub filter only)
//                         notheld: two lock:release of a lock not held (answered LOCK_NOT_HELD by the entity;
//                                  hub + router + entity mailbox, no store write)
//                         store: SqliteLockStore.SaveAsync/DeleteAsync directly (no node, no network)
//     --inproc            run the node in this process (CollabTestNode) instead of its own process; adds GC figures
//     --node-arg K=V      extra node configuration, repeatable (e.g. Collab:Connections:InvocationsPerSecond=500)
//     --data-root DIR     where the node's temporary data directory (SQLite file) is made (default: the system temp
//                         folder); e.g. /dev/shm to see what the disk adds
//
// Defaults keep the node's production limits (50 invocations/s per connection, burst 100; 5 connections per
// user): 1,000 pairs/s over 100 connections is 10 pairs (20 invocations) per connection per second.
using System.Diagnostics;
using System.Globalization;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var o = BenchOptions.Parse(args);
Console.WriteLine($"Locks.Bench: op={o.Op} rate={o.Rate}/s duration={o.Duration}s warmup={o.Warmup}s clients={o.Clients} " +
                  $"resources/client={o.ResourcesPerClient} node={(o.InProc ? "in-process" : "own process")} data={o.DataRoot ?? Path.GetTempPath()} " +
                  $"cores={Environment.ProcessorCount} .NET {Environment.Version} {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z");
if (o.NodeArgs.Count > 0)
{
    Console.WriteLine("node settings: " + string.Join(" ", o.NodeArgs.Select(kv => $"{kv.Key}={kv.Value}")));
}
if (o.Op == "store")
{
    await StoreBench.RunAsync(o);
    return 0;
}
return await LoadBench.RunAsync(o);

internal sealed class BenchOptions
{
    public double Rate { get; private set; } = 1000;
    public double Duration { get; private set; } = 30;
    public double Warmup { get; private set; } = 5;
    public int Clients { get; private set; } = 100;
    public int ResourcesPerClient { get; private set; } = 4;
    public string Op { get; private set; } = "pairs";
    public bool InProc { get; private set; }
    public string? DataRoot { get; private set; }
    public Dictionary<string, string?> NodeArgs { get; } = new(StringComparer.Ordinal);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            switch (args[i])
            {
                case "--rate": o.Rate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--duration": o.Duration = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": o.Warmup = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--clients": o.Clients = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--resources": o.ResourcesPerClient = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--op": o.Op = Next(); break;
                case "--inproc": o.InProc = true; break;
                case "--data-root": o.DataRoot = Next(); break;
                case "--node-arg":
                    var kv = Next().Split('=', 2);
                    o.NodeArgs[kv[0]] = kv.Length > 1 ? kv[1] : null;
                    break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }
        if (o.Op is not ("pairs" or "heartbeat" or "notheld" or "store"))
        {
            throw new ArgumentException("--op is pairs, heartbeat, notheld or store.");
        }
        return o;
    }
}

/// <summary>Latency figures of one series, in milliseconds.</summary>
internal static class Stats
{
    public static string Header => "| series | n | p50 | p90 | p99 | p99.9 | max | mean | > 5 ms |";

    public static string Row(string name, List<double> ms)
    {
        if (ms.Count == 0)
        {
            return $"| {name} | 0 | | | | | | | |";
        }
        ms.Sort();
        double P(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        var over = ms.Count(v => v > 5.0);
        return $"| {name} | {ms.Count} | {P(0.50):F2} | {P(0.90):F2} | {P(0.99):F2} | {P(0.999):F2} | {ms[^1]:F2} | {ms.Average():F2} | {100.0 * over / ms.Count:F2} % |";
    }

    public static double Ms(long fromTicks, long toTicks) => (toTicks - fromTicks) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>CPU time of processes and of the whole machine, from /proc (Linux).</summary>
internal readonly record struct CpuSample(double NodeSeconds, double BenchSeconds, double MachineBusySeconds, double MachineSeconds)
{
    private static readonly double TicksPerSecond = 100.0; // USER_HZ on Linux

    public static CpuSample Take(int? nodePid)
    {
        double node = 0;
        if (nodePid is { } pid && File.Exists($"/proc/{pid}/stat"))
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            node = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        var bench = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        double busy = 0, total = 0;
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        for (var i = 0; i < cpu.Length && i < 8; i++)
        {
            total += cpu[i];
            if (i is not (3 or 4))
            {
                busy += cpu[i]; // all but idle and iowait
            }
        }
        return new CpuSample(node, bench, busy / TicksPerSecond, total / TicksPerSecond);
    }

    public static string Describe(CpuSample a, CpuSample b, double wallSeconds, bool inProc)
    {
        var cores = Environment.ProcessorCount;
        var machineBusy = (b.MachineBusySeconds - a.MachineBusySeconds) / wallSeconds;
        var node = (b.NodeSeconds - a.NodeSeconds) / wallSeconds;
        var bench = (b.BenchSeconds - a.BenchSeconds) / wallSeconds;
        var others = machineBusy - bench - (inProc ? 0 : node);
        return inProc
            ? $"CPU (cores busy, of {cores}): node+bench process {bench:F2}, other processes {Math.Max(0, others):F2}, machine {machineBusy:F2}"
            : $"CPU (cores busy, of {cores}): node {node:F2}, bench client {bench:F2}, other processes {Math.Max(0, others):F2}, machine {machineBusy:F2}";
    }
}

internal static class LoadBench
{
    public static async Task<int> RunAsync(BenchOptions o)
    {
        var dataDir = o.DataRoot is null
            ? Directory.CreateTempSubdirectory("collab-locks-bench-").FullName
            : Directory.CreateDirectory(Path.Combine(o.DataRoot, "collab-locks-bench-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        CollabNodeProcess? process = null;
        CollabTestNode? inproc = null;
        try
        {
            Func<string, Task<CollabTestClient>> connect;
            if (o.InProc)
            {
                var settings = new Dictionary<string, string?>(o.NodeArgs) { ["Serilog:MinimumLevel:Default"] = "Warning" };
                inproc = await CollabTestNode.StartAsync(new CollabTestNodeOptions { DataDir = dataDir, Settings = settings });
                connect = user => inproc.ConnectAsync(user, user, "doctor");
            }
            else
            {
                var nodeArgs = o.NodeArgs.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
                process = await CollabNodeProcess.StartAsync(dataDir, null, nodeArgs);
                connect = user => process.ConnectAsync(user, user, "doctor");
            }
            return await RunAgainstAsync(o, connect, process?.ProcessId);
        }
        finally
        {
            if (process is not null)
            {
                await process.StopAsync();
                await process.DisposeAsync();
            }
            if (inproc is not null)
            {
                await inproc.DisposeAsync();
            }
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<int> RunAgainstAsync(BenchOptions o, Func<string, Task<CollabTestClient>> connect, int? nodePid)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var clients = new CollabTestClient[o.Clients];
        var resources = new string[o.Clients, o.ResourcesPerClient];
        var setup = Stopwatch.StartNew();
        for (var c = 0; c < o.Clients; c++)
        {
            clients[c] = await connect($"bench-{run}-{c}");
            for (var r = 0; r < o.ResourcesPerClient; r++)
            {
                resources[c, r] = $"document:lb-{run}-{c}-{r}/tab:main";
                var joined = await clients[c].JoinAsync(resources[c, r], "viewer");
                if (!joined.Success)
                {
                    throw new InvalidOperationException($"join failed: {joined.Error}");
                }
            }
        }
        Console.WriteLine($"setup: {o.Clients} connections, {o.Clients * o.ResourcesPerClient} resources joined in {setup.Elapsed.TotalSeconds:F1} s");

        var warmupPairs = (int)(o.Rate * o.Warmup);
        var measuredPairs = (int)(o.Rate * o.Duration);
        var total = warmupPairs + measuredPairs;
        var interval = Stopwatch.Frequency / o.Rate;
        var sched = new long[total];
        var acqSend = new long[total];
        var acqDone = new long[total];
        var relSend = new long[total];
        var relDone = new long[total];
        var acqError = new string?[total];
        var relError = new string?[total];
        var busy = new int[o.Clients * o.ResourcesPerClient];
        var collisions = 0;
        var outstanding = 0;
        var maxOutstanding = 0;
        var allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = total;

        string? Check(HubResponse response, string expectedError) =>
            response.Success ? (expectedError.Length == 0 ? null : "unexpected success")
            : response.Error!.Code == expectedError ? null : response.Error.Code;

        Task<HubResponse> Invoke(CollabTestClient client, string resource, bool first) => o.Op switch
        {
            "pairs" => first ? client.AcquireLockAsync(resource) : client.ReleaseLockAsync(resource),
            "heartbeat" => client.HeartbeatAsync(),
            _ => client.ReleaseLockAsync(resource), // notheld
        };
        var expected = o.Op == "notheld" ? ErrorCodes.LockNotHeld : "";

        async Task PairAsync(int i)
        {
            var c = i % o.Clients;
            var r = i / o.Clients % o.ResourcesPerClient;
            var slot = c * o.ResourcesPerClient + r;
            if (Interlocked.Exchange(ref busy[slot], 1) == 1)
            {
                Interlocked.Increment(ref collisions);
            }
            var now = Interlocked.Increment(ref outstanding);
            if (now > Volatile.Read(ref maxOutstanding))
            {
                Volatile.Write(ref maxOutstanding, now);
            }
            try
            {
                acqSend[i] = Stopwatch.GetTimestamp();
                var first = await Invoke(clients[c], resources[c, r], first: true).ConfigureAwait(false);
                acqDone[i] = Stopwatch.GetTimestamp();
                acqError[i] = Check(first, expected);
                relSend[i] = Stopwatch.GetTimestamp();
                var second = await Invoke(clients[c], resources[c, r], first: false).ConfigureAwait(false);
                relDone[i] = Stopwatch.GetTimestamp();
                relError[i] = Check(second, expected);
            }
            catch (Exception ex)
            {
                var name = ex.GetType().Name;
                if (acqDone[i] == 0)
                {
                    acqError[i] = name;
                }
                else
                {
                    relError[i] = name;
                }
            }
            finally
            {
                Volatile.Write(ref busy[slot], 0);
                Interlocked.Decrement(ref outstanding);
                if (Interlocked.Decrement(ref remaining) == 0)
                {
                    allDone.TrySetResult();
                }
            }
        }

        // One dispatcher thread starts every pair at its scheduled time (open loop). It sleeps ~1 ms when
        // nothing is due rather than spinning: on 2 cores a spinning client would take a core from the node.
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        for (var i = 0; i < total; i++)
        {
            sched[i] = start + (long)(i * interval);
        }
        CpuSample cpuStart = default;
        long measuredStart = sched[Math.Min(warmupPairs, total - 1)];
        var gc0 = (Count: 0, Pause: TimeSpan.Zero);
        var dispatcher = new Thread(() =>
        {
            var next = 0;
            var sampled = false;
            while (next < total)
            {
                var now = Stopwatch.GetTimestamp();
                if (!sampled && now >= measuredStart)
                {
                    cpuStart = CpuSample.Take(nodePid);
                    gc0 = (GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2), GC.GetTotalPauseDuration());
                    sampled = true;
                }
                while (next < total && sched[next] <= now)
                {
                    _ = PairAsync(next);
                    next++;
                }
                if (next < total)
                {
                    Thread.Sleep(1);
                }
            }
        })
        { IsBackground = true, Name = "dispatcher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        dispatcher.Join();
        var finished = await Task.WhenAny(allDone.Task, Task.Delay(TimeSpan.FromSeconds(60))) == allDone.Task;
        var endTicks = Stopwatch.GetTimestamp();
        var cpuEnd = CpuSample.Take(nodePid);
        var gc1 = (Count: GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration());

        // Report the measured window only.
        var acq = new List<double>();
        var rel = new List<double>();
        var acqFromSchedule = new List<double>();
        var sendLag = new List<double>();
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        var unfinished = 0;
        long firstSend = long.MaxValue, lastDone = 0;
        var perSecond = new SortedDictionary<int, List<double>>();
        for (var i = warmupPairs; i < total; i++)
        {
            if (acqError[i] is { } ae)
            {
                errors[$"acquire {ae}"] = errors.GetValueOrDefault($"acquire {ae}") + 1;
            }
            if (relError[i] is { } re)
            {
                errors[$"release {re}"] = errors.GetValueOrDefault($"release {re}") + 1;
            }
            if (acqDone[i] == 0 || (relDone[i] == 0 && acqError[i] is null))
            {
                if (acqError[i] is null && relError[i] is null)
                {
                    unfinished++;
                }
                continue;
            }
            var a = Stats.Ms(acqSend[i], acqDone[i]);
            acq.Add(a);
            acqFromSchedule.Add(Stats.Ms(sched[i], acqDone[i]));
            sendLag.Add(Stats.Ms(sched[i], acqSend[i]));
            if (relDone[i] != 0)
            {
                rel.Add(Stats.Ms(relSend[i], relDone[i]));
                lastDone = Math.Max(lastDone, relDone[i]);
            }
            firstSend = Math.Min(firstSend, acqSend[i]);
            var second = (int)((sched[i] - measuredStart) / Stopwatch.Frequency);
            if (!perSecond.TryGetValue(second, out var list))
            {
                perSecond[second] = list = [];
            }
            list.Add(a);
        }
        var lastScheduled = sched[total - 1];
        var sentRate = (measuredPairs - 1) / Stats.Ms(sched[warmupPairs], lastScheduled) * 1000.0;
        var completed = rel.Count;
        var completedRate = completed / Stats.Ms(firstSend, lastDone) * 1000.0;
        var wall = Stats.Ms(measuredStart, endTicks) / 1000.0;

        var (firstName, secondName) = o.Op switch
        {
            "pairs" => ("lock:acquire round trip (send -> ApiResponse)", "lock:release round trip"),
            "heartbeat" => ("heartbeat round trip (1st of pair)", "heartbeat round trip (2nd of pair)"),
            _ => ("lock:release not held -> LOCK_NOT_HELD (1st of pair)", "lock:release not held (2nd of pair)"),
        };
        Console.WriteLine();
        Console.WriteLine($"measured window: {measuredPairs} pairs scheduled at {o.Rate}/s; pairs started at {sentRate:F1}/s; " +
                          $"{completed} completed pairs at {completedRate:F1}/s; unfinished {unfinished}{(finished ? "" : " (timed out)")}; " +
                          $"max pairs in flight {maxOutstanding}; resource reused while busy {collisions}");
        Console.WriteLine("errors: " + (errors.Count == 0 ? "none" : string.Join(", ", errors.Select(e => $"{e.Key} x{e.Value}"))));
        Console.WriteLine(CpuSample.Describe(cpuStart, cpuEnd, wall, o.InProc));
        if (o.InProc)
        {
            Console.WriteLine($"GC (node and client in one process): {gc1.Count - gc0.Count} collections, pause {(gc1.Pause - gc0.Pause).TotalMilliseconds:F0} ms " +
                              $"in {wall:F1} s; gen0/1/2 total {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
        }
        Console.WriteLine();
        Console.WriteLine("latency in ms");
        Console.WriteLine(Stats.Header);
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine(Stats.Row(firstName, acq));
        Console.WriteLine(Stats.Row(secondName, rel));
        Console.WriteLine(Stats.Row("first invocation from its scheduled time", acqFromSchedule));
        Console.WriteLine(Stats.Row("client send lag (schedule -> send)", sendLag));
        Console.WriteLine();
        Console.WriteLine("first invocation p99 per second of the window (ms): " +
                          string.Join(" ", perSecond.Select(kv =>
                          {
                              kv.Value.Sort();
                              return kv.Value[Math.Min(kv.Value.Count - 1, (int)Math.Ceiling(0.99 * kv.Value.Count) - 1)].ToString("F1", CultureInfo.InvariantCulture);
                          })));

        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
        return 0;
    }
}

/// <summary>The SQLite lock store alone: one grant (SaveAsync) and one release (DeleteAsync) per pair.</summary>
internal static class StoreBench
{
    public static async Task RunAsync(BenchOptions o)
    {
        var dir = o.DataRoot is null
            ? Directory.CreateTempSubdirectory("collab-locks-store-").FullName
            : Directory.CreateDirectory(Path.Combine(o.DataRoot, "collab-locks-store-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            var database = new SqliteDatabase(Path.Combine(dir, "collab.db"));
            await database.MigrateAsync();
            var store = new SqliteLockStore(database);
            var pairs = (int)(o.Rate * o.Duration);
            foreach (var parallel in new[] { 1, 4 })
            {
                var save = new List<double>();
                var delete = new List<double>();
                var gate = new object();
                var wall = Stopwatch.StartNew();
                await Parallel.ForAsync(0, pairs, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, _) =>
                {
                    var now = DateTimeOffset.UtcNow;
                    var record = new LockRecord($"document:s{i % 400}/tab:main", Guid.CreateVersion7().ToString("N"), "u", "U", "doctor", "s",
                        now, now.AddMinutes(5), i + 1, TimeSpan.FromMinutes(5));
                    var t0 = Stopwatch.GetTimestamp();
                    await store.SaveAsync(record, 0, CancellationToken.None);
                    var t1 = Stopwatch.GetTimestamp();
                    await store.DeleteAsync(record.ResourceId, record.LockId, 0, CancellationToken.None);
                    var t2 = Stopwatch.GetTimestamp();
                    lock (gate)
                    {
                        save.Add(Stats.Ms(t0, t1));
                        delete.Add(Stats.Ms(t1, t2));
                    }
                });
                Console.WriteLine();
                Console.WriteLine($"SQLite lock store, {pairs} save+delete pairs, {parallel} at a time (closed loop): {pairs / wall.Elapsed.TotalSeconds:F0} pairs/s");
                Console.WriteLine(Stats.Header);
                Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
                Console.WriteLine(Stats.Row("SaveAsync (grant: upsert lock + raise fencing token)", save));
                Console.WriteLine(Stats.Row("DeleteAsync (release)", delete));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
