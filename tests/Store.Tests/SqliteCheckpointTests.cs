using CollabAkka.Entities.Audit;
using CollabAkka.Node.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace CollabAkka.Store.Tests;

/// <summary>
/// The embedded store checkpoints its write-ahead log off the commit path (<c>Collab:Sqlite</c>): commits keep only a
/// backstop, a PASSIVE checkpoint copies the whole log without blocking a writer, and the node's service runs it.
/// </summary>
public sealed class SqliteCheckpointTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("collab-ckpt-");

    private static readonly AuditEvent Event = new() { EventType = "EDIT", Timestamp = DateTimeOffset.UnixEpoch, UserId = "u1" };

    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<SqliteDatabase> OpenAsync(SqliteStoreOptions? options)
    {
        var database = new SqliteDatabase(Path.Combine(_dir.FullName, $"{Guid.NewGuid():N}.db"), options);
        await database.MigrateAsync();
        return database;
    }

    private static async Task<long> AutoCheckpointPagesAsync(SqliteDatabase database)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_autocheckpoint";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task WithABackgroundCheckpointCommitsCheckpointOnlyAtTheBackstopAndWithoutOptionsAsSqliteDoes()
    {
        var background = await OpenAsync(new SqliteStoreOptions { CheckpointInterval = TimeSpan.FromSeconds(1), BackstopPages = 12_345 });
        Assert.Equal(12_345, await AutoCheckpointPagesAsync(background));
        var plain = await OpenAsync(null);
        Assert.Equal(1000, await AutoCheckpointPagesAsync(plain));
        var off = await OpenAsync(new SqliteStoreOptions { CheckpointInterval = TimeSpan.Zero });
        Assert.Equal(1000, await AutoCheckpointPagesAsync(off));
    }

    [Fact]
    public async Task ACheckpointCopiesTheWholeLogAndRunsOnlyAfterAWrite()
    {
        var database = await OpenAsync(new SqliteStoreOptions());
        await database.CheckpointAsync(); // whatever the migrations left
        Assert.Null(await database.CheckpointAsync());

        await new SqliteAuditStore(database).AppendAsync([Event, Event with { UserId = "u2" }], CancellationToken.None);
        var done = await database.CheckpointAsync();
        Assert.NotNull(done);
        Assert.False(done.Value.Busy);
        Assert.True(done.Value.LogPages > 0);
        Assert.Equal(done.Value.LogPages, done.Value.CheckpointedPages);
        Assert.Null(await database.CheckpointAsync());
    }

    [Fact]
    public async Task AWriteCountsForTheNextCheckpointWhenItsTurnEndsNotWhenItBegins()
    {
        var database = await OpenAsync(new SqliteStoreOptions());
        await database.CheckpointAsync();
        Assert.Null(await database.CheckpointAsync());

        await database.WriteAsync(async turn =>
        {
            // A checkpoint that runs while a writer holds its turn, before the commit: nothing of it is in the log yet.
            Assert.Null(await database.CheckpointAsync());
            var insert = turn.Command("INSERT INTO session_revocations (user_id, not_before_ms) VALUES ('u1', 1)");
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
            return 0;
        });

        var done = await database.CheckpointAsync();
        Assert.NotNull(done);
        Assert.True(done.Value.LogPages > 0);
        Assert.Equal(done.Value.LogPages, done.Value.CheckpointedPages);
    }

    [Fact]
    public async Task TheNodesServiceCheckpointsWhatWasWritten()
    {
        var options = new SqliteStoreOptions { CheckpointInterval = TimeSpan.FromMilliseconds(20) };
        var database = await OpenAsync(options);
        await database.CheckpointAsync();
        using var service = new SqliteCheckpointService(database, options, NullLogger<SqliteCheckpointService>.Instance);
        var checkpointed = new TaskCompletionSource<WalCheckpoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        service.Checkpointed += c => checkpointed.TrySetResult(c);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await new SqliteAuditStore(database).AppendAsync([Event], CancellationToken.None);
            var done = await checkpointed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(done.LogPages > 0);
            Assert.Equal(done.LogPages, done.CheckpointedPages);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void OptionsOutOfRangeAreRefusedNamingTheSection()
    {
        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            new SqliteStoreOptions { BackstopPages = 10 }.Validate());
        Assert.Contains("Collab:Sqlite", ex.Message, StringComparison.Ordinal);
        Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            new SqliteStoreOptions { CheckpointInterval = TimeSpan.FromSeconds(-1) }.Validate());
    }
}
