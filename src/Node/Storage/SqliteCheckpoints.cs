using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Storage;

/// <summary>
/// When the embedded store copies its write-ahead log into the database file (<c>Collab:Sqlite</c>).
/// <para>
/// SQLite's default is an automatic checkpoint inside the commit that pushes the log past 1,000 pages: that commit,
/// and every acknowledgement queued behind it, waits for the copy and its fsync. At 200 edits/s that was every second
/// or two and it decided the acknowledgement p99 (24.5 ms; 6.8 ms with no checkpoint at all, PERFORMANCE.md). So the
/// node checkpoints from a connection of its own every <see cref="CheckpointInterval"/> (PASSIVE: it never waits for
/// and never blocks a writer), and the committing connections keep an automatic checkpoint only as a backstop at
/// <see cref="BackstopPages"/>, in case the background one falls behind or stops.
/// </para>
/// </summary>
public sealed class SqliteStoreOptions
{
    public static readonly TimeSpan DefaultCheckpointInterval = TimeSpan.FromMilliseconds(500);
    public const int DefaultBackstopPages = 10_000;

    /// <summary>How often the background checkpoint runs; zero leaves checkpoints to SQLite's commit path (1,000 pages).</summary>
    public TimeSpan CheckpointInterval { get; set; } = DefaultCheckpointInterval;

    /// <summary>Log size in pages (4 KiB each) at which a commit checkpoints by itself while the background one runs.</summary>
    public int BackstopPages { get; set; } = DefaultBackstopPages;

    public void Validate()
    {
        if (CheckpointInterval < TimeSpan.Zero || CheckpointInterval > TimeSpan.FromMinutes(10) || BackstopPages < 1000)
        {
            throw new OptionsValidationException("Collab:Sqlite", typeof(SqliteStoreOptions),
                ["Collab:Sqlite: CheckpointInterval must be between 0 (SQLite's own checkpoints) and 10 minutes, BackstopPages at least 1000."]);
        }
    }
}

/// <summary>One <c>PRAGMA wal_checkpoint(PASSIVE)</c>: the log's size and how much of it is now in the database file, in pages.</summary>
public readonly record struct WalCheckpoint(bool Busy, int LogPages, int CheckpointedPages);

/// <summary>Runs <see cref="SqliteDatabase.CheckpointAsync"/> every <see cref="SqliteStoreOptions.CheckpointInterval"/>.</summary>
public sealed partial class SqliteCheckpointService(SqliteDatabase database, SqliteStoreOptions options, ILogger<SqliteCheckpointService> logger)
    : BackgroundService
{
    /// <summary>Raised after each checkpoint that had something to copy.</summary>
    public event Action<WalCheckpoint>? Checkpointed;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CheckpointInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    if (await database.CheckpointAsync(stoppingToken).ConfigureAwait(false) is { } done)
                    {
                        Checkpointed?.Invoke(done);
                    }
                }
                catch (Entities.Resources.StoreUnavailableException ex)
                {
                    // The next tick tries again; meanwhile the commits' own backstop keeps the log bounded.
                    Log.CheckpointFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2300, Level = LogLevel.Warning, Message = "SQLite checkpoint failed; retrying on the next tick.")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);
    }
}
