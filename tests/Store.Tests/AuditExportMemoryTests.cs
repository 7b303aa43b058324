using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using CollabAkka.TestKit;
using Npgsql;
using Xunit.Abstractions;

namespace CollabAkka.Store.Tests;

/// <summary>
/// Exporting a million audit rows from PostgreSQL streams in constant memory: the node process's peak resident
/// memory (VmHWM) while it sends ~0.5 GB of NDJSON and then CSV stays within a small bound of its peak before.
/// </summary>
public sealed class AuditExportMemoryTests(ITestOutputHelper output)
{
    private const int Rows = 1_000_000;
    private const long AllowedGrowthBytes = 100L * 1024 * 1024;
    private const string Until = "2025-01-01T00:00:00Z"; // the seeded rows are in 2024; the node's own events are not

    [Fact]
    public async Task ExportingAMillionRowsAsNdjsonAndCsvStreamsInConstantMemory()
    {
        var connectionString = await PostgresTestServer.SharedConnectionStringAsync();
        var schema = PostgresTestServer.CreateSchemaName();
        var dataDir = Directory.CreateTempSubdirectory("collab-export-").FullName;
        try
        {
            await using var node = await CollabNodeProcess.StartAsync(dataDir, null,
                "--Collab:Store=postgres", $"--ConnectionStrings:Collab={connectionString}", $"--Collab:Postgres:Schema={schema}");
            var seeding = Stopwatch.StartNew();
            await SeedAsync(connectionString, schema);
            output.WriteLine($"seeded {Rows:N0} rows in {seeding.Elapsed.TotalSeconds:F1} s");

            var token = await node.GetTokenAsync("auditor", "Auditor", "auditor");
            await ExportAsync(node, token, $"ndjson&limit=10&to={Until}"); // warm up the code path
            var before = PeakRss(node.ProcessId);

            var ndjson = await ExportAsync(node, token, $"ndjson&to={Until}");
            var afterNdjson = PeakRss(node.ProcessId);
            var csv = await ExportAsync(node, token, $"csv&to={Until}");
            var afterCsv = PeakRss(node.ProcessId);

            output.WriteLine($"NDJSON: {ndjson.Lines:N0} lines, {ndjson.Bytes / 1048576.0:F0} MiB in {ndjson.Seconds:F1} s ({ndjson.Lines / ndjson.Seconds:N0} rows/s)");
            output.WriteLine($"CSV:    {csv.Lines:N0} lines, {csv.Bytes / 1048576.0:F0} MiB in {csv.Seconds:F1} s ({csv.Lines / csv.Seconds:N0} rows/s)");
            output.WriteLine($"node peak RSS: before {before / 1048576.0:F0} MiB, after NDJSON {afterNdjson / 1048576.0:F0} MiB, after CSV {afterCsv / 1048576.0:F0} MiB");
            Assert.Equal(Rows, ndjson.Lines);
            Assert.Equal(Rows + 1 + Rows / 10, csv.Lines); // header, and every tenth user agent holds a line break inside quotes
            Assert.True(afterCsv - before < AllowedGrowthBytes,
                $"peak RSS grew by {(afterCsv - before) / 1048576.0:F0} MiB while exporting {(ndjson.Bytes + csv.Bytes) / 1048576.0:F0} MiB");
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
            await PostgresTestServer.DropSchemaAsync(connectionString, schema);
        }
    }

    private static async Task SeedAsync(string connectionString, string schema)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO "{schema}".audit_events (ts, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details)
            SELECT timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => g),
                   (ARRAY['CONNECT','JOIN','LOCK_ACQUIRED','EDIT','LEAVE'])[1 + g % 5],
                   'user' || (g % 500), 'Dr. User ' || (g % 500), 'doctor',
                   'document:' || (g % 2000) || '/tab:notes', 'session-' || (g % 5000), 'node-a', '10.0.' || (g % 250) || '.' || (g % 200),
                   CASE WHEN g % 10 = 0 THEN 'Agent "quoted", with' || chr(10) || 'a line break'
                        ELSE 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' END,
                   'corr-' || g, jsonb_build_object('revision', g, 'bytes', g % 977)
            FROM generate_series(1, {Rows}) AS g
            """, connection) { CommandTimeout = 600 };
        await insert.ExecuteNonQueryAsync();
        await using var analyze = new NpgsqlCommand($"""ANALYZE "{schema}".audit_events""", connection);
        await analyze.ExecuteNonQueryAsync();
    }

    private static async Task<(long Lines, long Bytes, double Seconds)> ExportAsync(CollabNodeProcess node, string token, string format)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/audit?format={format}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var watch = Stopwatch.StartNew();
        using var response = await node.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long lines = 0, bytes = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            bytes += n;
            lines += buffer.AsSpan(0, n).Count((byte)'\n');
        }
        return (lines, bytes, watch.Elapsed.TotalSeconds);
    }

    /// <summary>VmHWM: the process's peak resident set since it started.</summary>
    private static long PeakRss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
