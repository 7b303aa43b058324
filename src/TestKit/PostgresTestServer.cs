using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Npgsql;

namespace CollabAkka.TestKit;

/// <summary>
/// A real PostgreSQL for tests. <see cref="SharedConnectionStringAsync"/> is the server the whole run uses:
/// <c>COLLAB_TEST_PG</c> when set (CI starts one with <c>scripts/pg.sh</c>), otherwise a private cluster started
/// on first use from Debian's <c>postgresql</c> binaries and stopped when the test process exits.
/// <see cref="StartPrivateAsync"/> gives a test its own cluster that it may stop and start (outage tests).
/// Isolation between test nodes is by schema (<see cref="CreateSchemaName"/>), which is cheaper than a database.
/// </summary>
public sealed class PostgresTestServer : IAsyncDisposable
{
    public const string ConnectionStringVariable = "COLLAB_TEST_PG";
    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static string? _shared;

    private readonly string _bin;
    private readonly bool _asPostgresUser;

    private PostgresTestServer(string bin, string dataDir, int port)
    {
        _bin = bin;
        DataDir = dataDir;
        Port = port;
        _asPostgresUser = Environment.UserName == "root";
    }

    public string DataDir { get; }
    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database=postgres";

    public static async Task<string> SharedConnectionStringAsync()
    {
        if (Environment.GetEnvironmentVariable(ConnectionStringVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }
        await SharedGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_shared is null)
            {
                var server = await StartPrivateAsync().ConfigureAwait(false);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                _shared = server.ConnectionString;
            }
            return _shared;
        }
        finally
        {
            SharedGate.Release();
        }
    }

    /// <summary>initdb + start a new cluster on a free loopback port.</summary>
    public static async Task<PostgresTestServer> StartPrivateAsync()
    {
        var bin = FindBin();
        RemoveStoppedClusters();
        var dataDir = Path.Combine(Path.GetTempPath(), "collab-pg-" + Guid.NewGuid().ToString("N")[..10]);
        var server = new PostgresTestServer(bin, dataDir, FreePort());
        Directory.CreateDirectory(dataDir);
        if (server._asPostgresUser)
        {
            await RunAsync("chown", "postgres:postgres", dataDir).ConfigureAwait(false);
        }
        await server.RunAsOwnerAsync("initdb", "-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync").ConfigureAwait(false);
        await server.StartAsync().ConfigureAwait(false);
        return server;
    }

    public Task StartAsync() =>
        RunAsOwnerAsync("pg_ctl", "-D", DataDir, "-l", Path.Combine(DataDir, "server.log"), "-w", "-t", "60",
            "-o", $"-h 127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k /tmp -c max_connections=200", "start");

    /// <summary>Fast shutdown: open connections are cut, as when the database goes away under a running node.</summary>
    public Task StopAsync() => RunAsOwnerAsync("pg_ctl", "-D", DataDir, "-m", "fast", "-w", "stop");

    /// <summary>
    /// A fresh schema name, unique on every call (<c>t_[label_]</c> and 16 random hex digits), so two runs that share
    /// one server (two CI jobs, or a developer's run beside CI) never drop each other's tables. The label only makes
    /// the schema easy to find in <c>psql</c>; it is reduced to a-z, 0-9 and '_'.
    /// </summary>
    public static string CreateSchemaName(string? label = null)
    {
        var prefix = label is null ? "" : new string(label.ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_').Take(24).ToArray()) + "_";
        return "t_" + prefix + Guid.NewGuid().ToString("N")[..16];
    }

    /// <summary>
    /// The same schema name for the same <paramref name="key"/> every time (a hash of it): a node restarted on the same
    /// data directory finds its tables again. Make the key unique yourself (a temp directory's full path is).
    /// </summary>
    public static string SchemaNameFor(string key) => "t_" + StableHash(key);

    public static async Task DropSchemaAsync(string connectionString, string schema)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
        await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already stopped (a test stopped it on purpose).
        }
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // The shared cluster is stopped when the test process exits, but the test host may end the process before its
    // folder is gone: sweep folders of private clusters that are no longer running.
    private static void RemoveStoppedClusters()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "collab-pg-*"))
        {
            if (!File.Exists(Path.Combine(dir, "postmaster.pid")) && Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddMinutes(-1))
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }

    private static string StableHash(string seed)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        return Convert.ToHexString(hash, 0, 8).ToLowerInvariant();
    }

    private static string FindBin()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).Order().ToList()
            : [];
        return candidates.Count > 0
            ? candidates[^1]
            : throw new InvalidOperationException(
                $"No PostgreSQL found: set {ConnectionStringVariable} to a connection string, or install Debian's postgresql package.");
    }

    private Task RunAsOwnerAsync(string tool, params string[] args)
    {
        var exe = Path.Combine(_bin, tool);
        return _asPostgresUser ? RunAsync("runuser", ["-u", "postgres", "--", exe, .. args]) : RunAsync(exe, args);
    }

    private static async Task RunAsync(string exe, params string[] args)
    {
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{exe} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
