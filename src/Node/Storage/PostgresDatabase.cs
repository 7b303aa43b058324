using System.Globalization;
using System.Net.Sockets;
using CollabAkka.Entities.Resources;
using Npgsql;

namespace CollabAkka.Node.Storage;

/// <summary>
/// The PostgreSQL database behind the stores: one pooled <see cref="NpgsqlDataSource"/> with the tables in
/// <see cref="PostgresStoreOptions.Schema"/> (the search path), and versioned migrations.
///
/// Migrations run at start-up (and alone with <c>CollabAkka.Node migrate</c>). Each runs once, in order, in its
/// own transaction, recorded in <c>schema_migrations</c>. Several nodes starting at once serialize on a
/// session advisory lock keyed by the schema, so the second waits and then finds nothing left to do; the lock
/// dies with its connection, so a node killed mid-migration never blocks the others.
///
/// Every driver failure (refused connection, timeout, server shutdown, constraint violation) surfaces as
/// <see cref="StoreUnavailableException"/>: callers answer UNAVAILABLE and change nothing.
/// </summary>
public sealed class PostgresDatabase : ICollabDatabase, IAsyncDisposable
{
    private static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        (1, "audit events", """
            CREATE TABLE audit_events (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                ts timestamptz NOT NULL,
                event_type text NOT NULL,
                user_id text, username text, role text,
                resource_id text, session_id text, node_id text,
                ip text, user_agent text, correlation_id text,
                details jsonb
            );
            -- Queries filter by one of these and page by id; the time index serves ranges and retention.
            CREATE INDEX ix_audit_ts ON audit_events (ts);
            CREATE INDEX ix_audit_user ON audit_events (user_id, id);
            CREATE INDEX ix_audit_resource ON audit_events (resource_id, id);
            CREATE INDEX ix_audit_type ON audit_events (event_type, id);
            CREATE INDEX ix_audit_correlation ON audit_events (correlation_id, id) WHERE correlation_id IS NOT NULL;
            """),
        (2, "locks and fencing tokens", """
            CREATE TABLE locks (
                resource_id text NOT NULL,
                lock_id text NOT NULL,
                root_id text NOT NULL,
                user_id text NOT NULL, username text NOT NULL, role text NOT NULL, session_id text NOT NULL,
                acquired_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
                fencing_token bigint NOT NULL, ttl_ms bigint NOT NULL,
                PRIMARY KEY (resource_id, lock_id)
            );
            CREATE INDEX ix_locks_root ON locks (root_id);
            CREATE TABLE fencing_tokens (
                resource_id text PRIMARY KEY,
                root_id text NOT NULL,
                last_token bigint NOT NULL
            );
            CREATE INDEX ix_tokens_root ON fencing_tokens (root_id);
            """),
        (3, "document updates and snapshots", """
            CREATE TABLE doc_updates (
                resource_id text NOT NULL,
                revision bigint NOT NULL,
                ts timestamptz NOT NULL,
                user_id text NOT NULL,
                session_id text NOT NULL,
                update_bytes bytea NOT NULL,
                PRIMARY KEY (resource_id, revision)
            );
            CREATE TABLE doc_snapshots (
                resource_id text NOT NULL,
                revision bigint NOT NULL,
                ts timestamptz NOT NULL,
                state bytea NOT NULL,
                PRIMARY KEY (resource_id, revision)
            );
            """),
        (4, "root ownership epochs", """
            CREATE TABLE resource_epochs (
                root_id text PRIMARY KEY,
                epoch bigint NOT NULL,
                owner_node text NOT NULL,
                claimed_at timestamptz NOT NULL
            );
            """),
        (5, "session revocations", """
            CREATE TABLE session_revocations (
                user_id text PRIMARY KEY,
                not_before timestamptz NOT NULL
            );
            """),
    ];

    private readonly NpgsqlDataSource _dataSource;
    private int _disposed;

    public PostgresDatabase(PostgresStoreOptions options, PostgresCircuits? circuits = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Circuits = circuits ?? new PostgresCircuits(new StoreResilienceOptions());
        options.Validate();
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString)
        {
            SearchPath = options.Schema,
            Timeout = options.ConnectTimeoutSeconds,
            CommandTimeout = options.CommandTimeoutSeconds,
        };
        builder.ApplicationName ??= "collabakka";
        // The stores issue a handful of fixed statements: prepared once per connection, they skip parse and plan.
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 32;
        }
        // No statement changes session state (the one advisory lock is released explicitly), so a pooled
        // connection needs no reset round trip on reuse.
        builder.NoResetOnClose = true;
        Schema = options.Schema;
        Description = $"PostgreSQL {builder.Host}:{builder.Port.ToString(CultureInfo.InvariantCulture)}/{builder.Database} schema {Schema}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public string Schema { get; }

    /// <summary>The circuit breakers every store call goes through (one per path).</summary>
    public PostgresCircuits Circuits { get; }

    public string Description { get; }

    /// <summary>The highest migration this build knows.</summary>
    public static int LatestVersion => Migrations[^1].Version;

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw Unavailable(ex);
        }
    }

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", connection);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Applies missing migrations, retrying an unreachable server with exponential backoff (Collab:Resilience:StartupTimeout).</summary>
    public Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default) =>
        Circuits.RetryAtStartAsync(ct => MigrateOnceAsync(ct), cancellationToken);

    private Task<IReadOnlyList<int>> MigrateOnceAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<int>>(PostgresCircuits.Migrations, async connection =>
        {
            var applied = new List<int>();
            await ExecuteAsync(connection, "SELECT pg_advisory_lock(hashtext('collabakka.migrations.' || @schema))", cancellationToken).ConfigureAwait(false);
            try
            {
                await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_namespace WHERE nspname = @schema", connection))
                {
                    exists.Parameters.AddWithValue("schema", Schema);
                    if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
                    {
                        await ExecuteAsync(connection, $"CREATE SCHEMA \"{Schema}\"", cancellationToken).ConfigureAwait(false);
                    }
                }
                await ExecuteAsync(connection, """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """, cancellationToken).ConfigureAwait(false);
                var done = new HashSet<int>();
                await using (var select = new NpgsqlCommand("SELECT version FROM schema_migrations", connection))
                await using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        done.Add(reader.GetInt32(0));
                    }
                }
                foreach (var (version, name, sql) in Migrations)
                {
                    if (done.Contains(version))
                    {
                        continue;
                    }
                    await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                    await using (var apply = new NpgsqlCommand(sql, connection, tx))
                    {
                        await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES (@v, @n)", connection, tx))
                    {
                        record.Parameters.AddWithValue("v", version);
                        record.Parameters.AddWithValue("n", name);
                        await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                    applied.Add(version);
                }
            }
            finally
            {
                if (connection.State == System.Data.ConnectionState.Open)
                {
                    await ExecuteAsync(connection, "SELECT pg_advisory_unlock(hashtext('collabakka.migrations.' || @schema))", CancellationToken.None).ConfigureAwait(false);
                }
            }
            return applied;
        }, cancellationToken);

    /// <summary>Like <see cref="RunAsync{T}(Func{NpgsqlConnection, Task{T}}, CancellationToken)"/>, through the circuit breaker of one call path.</summary>
    public Task<T> RunAsync<T>(string circuit, Func<NpgsqlConnection, Task<T>> body, CancellationToken cancellationToken) =>
        Circuits.ExecuteAsync(circuit, ct => RunAsync(body, ct), cancellationToken);

    /// <summary>Opens a pooled connection, runs <paramref name="body"/>, and turns driver failures into <see cref="StoreUnavailableException"/>.</summary>
    public async Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await body(connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw Unavailable(ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal static bool IsUnavailable(Exception ex) =>
        ex is NpgsqlException or TimeoutException or SocketException or IOException;

    private static StoreUnavailableException Unavailable(Exception ex) => new($"PostgreSQL: {ex.Message}", ex);

    private async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (sql.Contains("@schema", StringComparison.Ordinal))
        {
            command.Parameters.AddWithValue("schema", Schema);
        }
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
