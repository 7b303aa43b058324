// Store write benchmark (issue 6, acceptance 6): audit and document-update writes against PostgreSQL (or SQLite
// for comparison) on this machine, through the same store classes the node uses.
//
//   dotnet run -c Release --project bench/Store.Bench [-- options]
//     --store postgres|sqlite   (default postgres; the connection string is COLLAB_TEST_PG, else a private
//                               cluster is started from Debian's postgresql binaries, as the tests do)
//     --duration S              measured seconds per scenario (default 10), after 2 s of warm-up
//     --rates A,B,...           open-loop event rates for the sink scenario (default 1000,5000,20000)
//
// Scenarios
//   audit-single     IAuditStore.AppendAsync of one event, one caller back to back: the cost of one durable commit
//   audit-batch-N    IAuditStore.AppendAsync of N events (N = 100, 500): throughput of the batched write
//   audit-sink@R     BufferedAuditSink under open-loop load of R events/s (each ms, Record() all events due): the
//                    latency that matters, from Record() until the event is committed, and the buffer's peak
//   update-single    IDocumentStore.AppendAsync of one 200-byte update, back to back
//   update-group     DocumentCommitter (group commit) with 64 concurrent editors each awaiting its durable ack
//
// Latencies are wall-clock per operation (or per event, for the sink), reported as p50/p99/max.
using System.Diagnostics;
using System.Globalization;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Node.Storage;
using CollabAkka.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var store = Arg("--store") ?? "postgres";
var duration = TimeSpan.FromSeconds(double.Parse(Arg("--duration") ?? "10", CultureInfo.InvariantCulture));
var rates = (Arg("--rates") ?? "1000,5000,20000").Split(',').Select(int.Parse).ToArray();
var warmup = TimeSpan.FromSeconds(2);

ICollabDatabase database;
IAuditStore audit;
IDocumentStore documents;
string where;
string? dropSchema = null;
string? connectionString = null;
if (store == "postgres")
{
    connectionString = await PostgresTestServer.SharedConnectionStringAsync();
    dropSchema = PostgresTestServer.CreateSchemaName();
    var pg = new PostgresDatabase(new PostgresStoreOptions { ConnectionString = connectionString, Schema = dropSchema });
    (database, audit, documents) = (pg, new PostgresAuditStore(pg), new PostgresDocumentStore(pg));
    where = pg.Description + " " + await ServerSettingsAsync(connectionString);
}
else
{
    var dir = Directory.CreateTempSubdirectory("store-bench-").FullName;
    var sqlite = new SqliteDatabase(Path.Combine(dir, "collab.db"));
    (database, audit, documents) = (sqlite, new SqliteAuditStore(sqlite), new SqliteDocumentStore(sqlite));
    where = sqlite.Description;
}
await database.MigrateAsync();
Console.WriteLine($"Store.Bench: {where}; {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z, {duration.TotalSeconds:F0} s per scenario; load average at start {LoadAverage()}");
Console.WriteLine();
Console.WriteLine("| scenario | ops/s | events/s | p50 ms | p99 ms | max ms | note |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---|");

try
{
    await ClosedLoop("audit-single", 1, () => audit.AppendAsync([NewEvent()], default));
    foreach (var n in new[] { 100, 500 })
    {
        var batch = Enumerable.Range(0, n).Select(_ => NewEvent()).ToArray();
        await ClosedLoop($"audit-batch-{n}", n, () => audit.AppendAsync(batch, default));
    }
    foreach (var rate in rates)
    {
        await SinkOpenLoop(rate);
    }
    var revision = 0L;
    var payload = new byte[200];
    Random.Shared.NextBytes(payload);
    var doc = "document:bench-" + Guid.NewGuid().ToString("N")[..6];
    await ClosedLoop("update-single", 1, () =>
        documents.AppendAsync([new DocumentUpdateRecord(doc, Interlocked.Increment(ref revision), payload, "u", "s", DateTimeOffset.UtcNow)], default));
    await GroupCommit(64, payload);
}
finally
{
    Console.WriteLine();
    Console.WriteLine($"load average at end {LoadAverage()}");
    if (database is IAsyncDisposable disposable)
    {
        await disposable.DisposeAsync();
    }
    if (dropSchema is not null)
    {
        await PostgresTestServer.DropSchemaAsync(connectionString!, dropSchema);
    }
}
return 0;

async Task ClosedLoop(string name, int eventsPerOp, Func<Task> op)
{
    var end = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    while (Stopwatch.GetTimestamp() < end)
    {
        await op();
    }
    var latencies = new List<double>(100_000);
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < duration)
    {
        var start = Stopwatch.GetTimestamp();
        await op();
        latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    var seconds = watch.Elapsed.TotalSeconds;
    Report(name, latencies.Count / seconds, latencies.Count * eventsPerOp / seconds, latencies, "one caller, back to back");
}

async Task SinkOpenLoop(int rate)
{
    // Record time travels in the event (Timestamp); a timing store decorator measures Record -> committed per event.
    var timing = new TimingAuditStore(audit);
    await using var sink = new BufferedAuditSink(timing, new AuditOptions(), NullLogger<BufferedAuditSink>.Instance);
    var total = (int)(rate * (warmup + duration).TotalSeconds);
    var measureFrom = (int)(rate * warmup.TotalSeconds);
    var interval = Stopwatch.Frequency / (double)rate;
    var start = Stopwatch.GetTimestamp();
    var peak = 0;
    // Every millisecond (or as soon as the timer fires), record every event due by now: open loop without
    // burning a core on spinning, which on two cores would slow the writer we are measuring.
    var i = 0;
    while (i < total)
    {
        await Task.Delay(1);
        var dueCount = Math.Min(total, (int)((Stopwatch.GetTimestamp() - start) / interval) + 1);
        for (; i < dueCount; i++)
        {
            if (i == measureFrom)
            {
                timing.Measure = true;
            }
            sink.Record(NewEvent() with { Timestamp = DateTimeOffset.UtcNow, Role = i >= measureFrom ? "m" : "w" });
        }
        peak = Math.Max(peak, sink.Pending);
    }
    await sink.FlushAsync();
    var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds - warmup.TotalSeconds;
    Report($"audit-sink@{rate}", timing.Batches / seconds, timing.Latencies.Count / seconds, timing.Latencies,
        $"open loop; {timing.Latencies.Count / (double)Math.Max(1, timing.Batches):F0} events/batch; buffer peak {peak}");
}

async Task GroupCommit(int editors, byte[] payload)
{
    await using var committer = new DocumentCommitter(documents, new DocumentOptions(), NullLogger<DocumentCommitter>.Instance);
    var latencies = new List<double>[editors];
    var stop = Stopwatch.GetTimestamp() + (long)((warmup + duration).TotalSeconds * Stopwatch.Frequency);
    var measureAfter = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    var tasks = Enumerable.Range(0, editors).Select(e => Task.Run(async () =>
    {
        latencies[e] = [];
        var doc = $"document:bench-{Guid.NewGuid():N}";
        var revision = 0L;
        while (Stopwatch.GetTimestamp() < stop)
        {
            var begin = Stopwatch.GetTimestamp();
            await committer.CommitAsync(new DocumentUpdateRecord(doc, ++revision, payload, "u", "s", DateTimeOffset.UtcNow));
            if (begin >= measureAfter)
            {
                latencies[e].Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
        }
    })).ToArray();
    await Task.WhenAll(tasks);
    var all = latencies.SelectMany(l => l).ToList();
    Report($"update-group", all.Count / duration.TotalSeconds, all.Count / duration.TotalSeconds, all,
        $"{editors} editors each awaiting its ack (DocumentCommitter)");
}

static void Report(string name, double ops, double events, List<double> latencies, string note)
{
    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
    Console.WriteLine($"| {name} | {ops:N0} | {events:N0} | {P(0.50):F2} | {P(0.99):F2} | {latencies.LastOrDefault():F1} | {note} |");
}

static AuditEvent NewEvent() => new()
{
    EventType = "EDIT",
    Timestamp = DateTimeOffset.UtcNow,
    UserId = "user-" + Random.Shared.Next(500),
    Username = "Dr. Bench",
    Role = "doctor",
    ResourceId = "document:" + Random.Shared.Next(2000) + "/tab:notes",
    SessionId = Guid.NewGuid().ToString("N"),
    NodeId = "bench",
    Ip = "10.0.0.1",
    UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    CorrelationId = Guid.NewGuid().ToString("N"),
    Details = new Dictionary<string, object?> { ["revision"] = Random.Shared.Next(), ["bytes"] = 200, ["via"] = "doc:update" },
};

static async Task<string> ServerSettingsAsync(string connectionString)
{
    await using var connection = new Npgsql.NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new Npgsql.NpgsqlCommand(
        "SELECT split_part(version(), ' ', 2) || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', wal_sync_method=' || current_setting('wal_sync_method')",
        connection);
    return "(PostgreSQL " + (string)(await command.ExecuteScalarAsync())! + ")";
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

/// <summary>Passes writes through and, once measuring, records for every event the time from its Record() (its Timestamp) to commit.</summary>
internal sealed class TimingAuditStore(IAuditStore inner) : IAuditStore
{
    public List<double> Latencies { get; } = new(1_000_000);
    public int Batches { get; private set; }
    public volatile bool Measure;

    public async Task AppendAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        await inner.AppendAsync(events, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var measured = false;
        foreach (var e in events)
        {
            if (e.Role == "m")
            {
                Latencies.Add((now - e.Timestamp).TotalMilliseconds);
                measured = true;
            }
        }
        if (measured)
        {
            Batches++;
        }
    }

    public Task<IReadOnlyList<StoredAuditEvent>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) => inner.QueryAsync(query, cancellationToken);

    public Task<int> PurgeAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken) => inner.PurgeAsync(olderThan, batchSize, cancellationToken);
}
