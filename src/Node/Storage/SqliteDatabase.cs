using System.Runtime.CompilerServices;
using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>
/// The embedded store's file: opens connections (WAL, busy timeout) and applies versioned migrations
/// once, in order, each in its own transaction, recorded in <c>schema_migrations</c>.
/// </summary>
// CA1001: the write gate is a SemaphoreSlim whose wait handle is never created; it holds nothing to dispose, and
// disposing it at shutdown could fail a writer still releasing it. The writer connection lives as long as the file is
// used, like the pool's connections (SQLite's own journal makes an unclosed connection safe to abandon).
#pragma warning disable CA1001
public sealed class SqliteDatabase : ICollabDatabase
#pragma warning restore CA1001
{
    private static readonly (int Version, string Sql)[] Migrations =
    [
        (1, """
            CREATE TABLE audit_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ts_ms INTEGER NOT NULL,
                event_type TEXT NOT NULL,
                user_id TEXT, username TEXT, role TEXT,
                resource_id TEXT, session_id TEXT, node_id TEXT,
                ip TEXT, user_agent TEXT, correlation_id TEXT,
                details TEXT
            );
            CREATE INDEX ix_audit_ts ON audit_events (ts_ms);
            CREATE INDEX ix_audit_user ON audit_events (user_id, ts_ms);
            CREATE INDEX ix_audit_resource ON audit_events (resource_id, ts_ms);
            CREATE INDEX ix_audit_type ON audit_events (event_type, ts_ms);
            CREATE INDEX ix_audit_correlation ON audit_events (correlation_id);
            """),
        (2, """
            CREATE TABLE locks (
                resource_id TEXT NOT NULL,
                lock_id TEXT NOT NULL,
                root_id TEXT NOT NULL,
                user_id TEXT NOT NULL, username TEXT NOT NULL, role TEXT NOT NULL, session_id TEXT NOT NULL,
                acquired_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,
                fencing_token INTEGER NOT NULL, ttl_ms INTEGER NOT NULL,
                PRIMARY KEY (resource_id, lock_id)
            );
            CREATE INDEX ix_locks_root ON locks (root_id);
            CREATE TABLE fencing_tokens (
                resource_id TEXT PRIMARY KEY,
                root_id TEXT NOT NULL,
                last_token INTEGER NOT NULL
            );
            CREATE INDEX ix_tokens_root ON fencing_tokens (root_id);
            """),
        (3, """
            CREATE TABLE doc_updates (
                resource_id TEXT NOT NULL,
                revision INTEGER NOT NULL,
                ts_ms INTEGER NOT NULL,
                user_id TEXT NOT NULL,
                session_id TEXT NOT NULL,
                update_bytes BLOB NOT NULL,
                PRIMARY KEY (resource_id, revision)
            );
            CREATE TABLE doc_snapshots (
                resource_id TEXT NOT NULL,
                revision INTEGER NOT NULL,
                ts_ms INTEGER NOT NULL,
                state BLOB NOT NULL,
                PRIMARY KEY (resource_id, revision)
            );
            """),
        (4, """
            CREATE TABLE resource_epochs (
                root_id TEXT PRIMARY KEY,
                epoch INTEGER NOT NULL,
                owner_node TEXT NOT NULL,
                claimed_at_ms INTEGER NOT NULL
            );
            """),
        // A new grant raises its resource's last fencing token in the same statement that inserts it, so a fenced
        // lock write is one autocommit statement (SqliteLockStore.SaveAsync) instead of a transaction of two.
        (5, """
            CREATE TRIGGER locks_raise_fencing_token AFTER INSERT ON locks
            BEGIN
                INSERT INTO fencing_tokens (resource_id, root_id, last_token) VALUES (NEW.resource_id, NEW.root_id, NEW.fencing_token)
                ON CONFLICT (resource_id) DO UPDATE SET last_token = MAX(last_token, excluded.last_token);
            END;
            """),
        (6, """
            CREATE TABLE session_revocations (
                user_id TEXT PRIMARY KEY,
                not_before_ms INTEGER NOT NULL
            );
            """),
    ];

    static SqliteDatabase() => SQLitePCL.Batteries_V2.Init();

    /// <param name="options">Checkpoints (<c>Collab:Sqlite</c>). With a <see cref="SqliteStoreOptions.CheckpointInterval"/>
    /// the caller runs <see cref="CheckpointAsync"/> that often (the node: <see cref="SqliteCheckpointService"/>); without
    /// options SQLite checkpoints in the commit path as usual.</param>
    public SqliteDatabase(string path, SqliteStoreOptions? options = null)
    {
        Options = options ?? new SqliteStoreOptions { CheckpointInterval = TimeSpan.Zero };
        _autoCheckpointPages = Options.CheckpointInterval > TimeSpan.Zero ? Options.BackstopPages : SqliteDefaultAutoCheckpointPages;
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    /// <summary>The checkpoint settings this file was opened with.</summary>
    public SqliteStoreOptions Options { get; }

    public string ConnectionString { get; }

    public string Description => $"SQLite {Path}";

    public Task PingAsync(CancellationToken cancellationToken = default) =>
        Guard(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM schema_migrations";
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        });

    // Physical connections already set up. Pooled opens hand back the same native handle, and the PRAGMAs
    // below are per-connection (journal_mode=WAL even per file), so running them on every open was pure cost.
    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> _initialized = new();

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer; // WriteAsync's, used only behind the gate
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private const int SqliteDefaultAutoCheckpointPages = 1000;
    private readonly int _autoCheckpointPages;
    private int _writtenSinceCheckpoint;

    /// <summary>
    /// Runs one write: one writer at a time in this process, on the process's one writer connection, whose prepared
    /// statements are kept from write to write (<see cref="WriteTurn.Command"/>).
    /// <para>
    /// The gate: SQLite allows one writer per file anyway; a writer that finds the file locked waits in SQLite's busy
    /// handler, which sleeps 1, 2, 5, 10 … ms between tries, so a lock grant that met an audit batch's commit waited
    /// milliseconds after the file was free. Behind this gate the next writer starts the moment the previous one commits
    /// (and an uncontended write passes it without waiting).
    /// </para>
    /// <para>
    /// The connection: a pooled connection is a new <see cref="SqliteConnection"/> each time, and its commands are
    /// prepared (parsed and compiled by SQLite) on every use. The epoch-fenced lock statements are long; compiling them
    /// was about a tenth of the node's CPU at 1,000 lock pairs/s (PERFORMANCE.md, session 14). Writes are serialized by the
    /// gate, so one long-lived connection serves them all. A SQLite error drops it, and the next write opens a fresh one.
    /// </para>
    /// A SQLite failure comes out as <see cref="StoreUnavailableException"/>, as from <see cref="Guard{T}"/>.
    /// </summary>
    public async Task<T> WriteAsync<T>(Func<WriteTurn, Task<T>> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _writer ??= await OpenAsync(cancellationToken).ConfigureAwait(false);
            return await body(new WriteTurn(this, _writer)).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            DropWriter();
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
        finally
        {
            // The write counts for the next checkpoint only now, when its commit is in the log: marked on entry, a
            // checkpoint that ran before the commit took the mark and left the commit's frames in the log until some later write.
            MarkWritten();
            _writeGate.Release();
        }
    }

    private void DropWriter()
    {
        foreach (var command in _statements.Values)
        {
            command.Dispose();
        }
        _statements.Clear();
        _writer?.Dispose();
        _writer = null;
    }

    /// <summary>
    /// Copies the write-ahead log into the database file without waiting for or blocking any writer
    /// (<c>PRAGMA wal_checkpoint(PASSIVE)</c>); null when nothing was written since the last call.
    /// </summary>
    public Task<WalCheckpoint?> CheckpointAsync(CancellationToken cancellationToken = default) =>
        Guard<WalCheckpoint?>(async () =>
        {
            if (Interlocked.Exchange(ref _writtenSinceCheckpoint, 0) == 0)
            {
                return null;
            }
            try
            {
                await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var result = new WalCheckpoint(reader.GetInt32(0) != 0, reader.GetInt32(1), reader.GetInt32(2));
                if (result.CheckpointedPages < result.LogPages)
                {
                    MarkWritten(); // a reader held part of the log back: copy the rest next time
                }
                return result;
            }
            catch
            {
                MarkWritten(); // the log was not copied: the next tick tries again
                throw;
            }
        });

    private void MarkWritten() => Volatile.Write(ref _writtenSinceCheckpoint, 1);

    /// <summary>The writer's connection and statements, for the length of one <see cref="WriteAsync{T}"/>.</summary>
    public readonly struct WriteTurn
    {
        private readonly SqliteDatabase _database;

        internal WriteTurn(SqliteDatabase database, SqliteConnection connection)
        {
            _database = database;
            Connection = connection;
        }

        public SqliteConnection Connection { get; }

        /// <summary>An immediate (<c>BEGIN IMMEDIATE</c>) transaction on the writer connection.</summary>
        public SqliteTransaction BeginTransaction() => Connection.BeginTransaction(deferred: false);

        /// <summary>
        /// The writer connection's command for this SQL, prepared on its first use and kept: its parameters are cleared
        /// for the caller to add. It belongs to the database; do not dispose it.
        /// </summary>
        public SqliteCommand Command(string sql, SqliteTransaction? transaction = null)
        {
            if (!_database._statements.TryGetValue(sql, out var command))
            {
                command = Connection.CreateCommand();
                command.CommandText = sql;
                _database._statements[sql] = command;
            }
            command.Parameters.Clear();
            command.Transaction = transaction;
            return command;
        }
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (connection.Handle is { } handle && !_initialized.TryGetValue(handle, out _))
        {
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; " +
                $"PRAGMA wal_autocheckpoint={_autoCheckpointPages.ToString(System.Globalization.CultureInfo.InvariantCulture)};";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            _initialized.AddOrUpdate(handle, this);
        }
        return connection;
    }

    /// <summary>Runs a store call, turning SQLite's failures into <see cref="StoreUnavailableException"/> (the stores' one error).</summary>
    public static async Task<T> Guard<T>(Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite: {ex.Message}", ex);
        }
    }

    /// <summary>Applies the migrations this file lacks. Idempotent; BEGIN IMMEDIATE serializes two processes.</summary>
    public Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default) =>
        Guard(() => MigrateCoreAsync(cancellationToken));

    private async Task<IReadOnlyList<int>> MigrateCoreAsync(CancellationToken cancellationToken)
    {
        var applied = new List<int>();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        foreach (var (version, sql) in Migrations)
        {
            await using var tx = connection.BeginTransaction(deferred: false);
            await using var check = connection.CreateCommand();
            check.Transaction = tx;
            check.CommandText = "SELECT COUNT(*) FROM schema_migrations WHERE version = $v";
            check.Parameters.AddWithValue("$v", version);
            if ((long)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0)
            {
                continue;
            }
            await using var apply = connection.CreateCommand();
            apply.Transaction = tx;
            apply.CommandText = sql + "; INSERT INTO schema_migrations (version, applied_at) VALUES ($v, $t);";
            apply.Parameters.AddWithValue("$v", version);
            apply.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToString("O"));
            await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            applied.Add(version);
        }
        return applied;
    }
}
