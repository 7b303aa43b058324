using CollabAkka.Entities.Resources;
using CollabAkka.Node.Storage;

namespace CollabAkka.Store.Tests;

/// <summary>
/// The embedded store's writes run one at a time on one long-lived writer connection whose statements are prepared once
/// (<see cref="SqliteDatabase.WriteAsync{T}"/>): the connection and its statements outlive a write, a failed write
/// leaves nothing half-done behind, and a SQLite error replaces the connection.
/// </summary>
public sealed class SqliteWriterTests : IDisposable
{
    private const string Insert = "INSERT INTO session_revocations (user_id, not_before_ms) VALUES ($user, 1)";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("collab-writer-");

    public void Dispose() => _dir.Delete(recursive: true);

    private async Task<SqliteDatabase> OpenAsync()
    {
        var database = new SqliteDatabase(Path.Combine(_dir.FullName, "collab.db"));
        await database.MigrateAsync();
        return database;
    }

    private static async Task<long> CountAsync(SqliteDatabase database)
    {
        await using var connection = await database.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM session_revocations";
        return (long)(await count.ExecuteScalarAsync())!;
    }

    private static Task<int> InsertAsync(SqliteDatabase.WriteTurn turn, string user)
    {
        var insert = turn.Command(Insert);
        insert.Parameters.AddWithValue("$user", user);
        return insert.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task TheConnectionAndAStatementAreKeptFromWriteToWriteWithTheParametersOfTheLastWriteCleared()
    {
        var database = await OpenAsync();
        var first = await database.WriteAsync(async turn =>
        {
            await InsertAsync(turn, "u1");
            return (turn.Connection, Command: turn.Command(Insert));
        });
        var second = await database.WriteAsync(turn =>
        {
            var command = turn.Command(Insert);
            return Task.FromResult((turn.Connection, Command: command, command.Parameters.Count));
        });
        Assert.Same(first.Connection, second.Connection);
        Assert.Same(first.Command, second.Command);
        Assert.Equal(0, second.Count);
        Assert.Equal(1, await database.WriteAsync(turn => InsertAsync(turn, "u2")));
        Assert.Equal(2, await CountAsync(database));
    }

    [Fact]
    public async Task ASqliteErrorComesOutAsStoreUnavailableAndTheNextWriteRunsOnAFreshConnection()
    {
        var database = await OpenAsync();
        var before = await database.WriteAsync(turn => Task.FromResult(turn.Connection));
        var failed = await Assert.ThrowsAsync<StoreUnavailableException>(() => database.WriteAsync(async turn =>
        {
            await InsertAsync(turn, "u1");
            return await turn.Command("INSERT INTO no_such_table VALUES (1)").ExecuteNonQueryAsync();
        }));
        Assert.StartsWith("SQLite:", failed.Message, StringComparison.Ordinal);

        var after = await database.WriteAsync(async turn =>
        {
            await InsertAsync(turn, "u2");
            return turn.Connection;
        });
        Assert.NotSame(before, after);
        Assert.Equal(2, await CountAsync(database)); // u1 was an autocommit statement of its own, before the error
    }

    [Fact]
    public async Task AWriteThatThrowsInsideItsTransactionLeavesNothingAndTheConnectionServesTheNextWrite()
    {
        var database = await OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => database.WriteAsync<int>(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            var insert = turn.Command(Insert, tx);
            insert.Parameters.AddWithValue("$user", "u1");
            await insert.ExecuteNonQueryAsync();
            throw new InvalidOperationException("the caller gave up before committing");
        }));
        Assert.Equal(0, await CountAsync(database));

        await database.WriteAsync(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            var insert = turn.Command(Insert, tx);
            insert.Parameters.AddWithValue("$user", "u2");
            await insert.ExecuteNonQueryAsync();
            await tx.CommitAsync();
            return 0;
        });
        Assert.Equal(1, await CountAsync(database));
    }

    [Fact]
    public async Task ConcurrentWritesEachRunAloneAndAllLand()
    {
        var database = await OpenAsync();
        var inside = 0;
        var overlapped = false;
        await Parallel.ForAsync(0, 200, async (i, _) =>
            await database.WriteAsync(async turn =>
            {
                overlapped |= Interlocked.Increment(ref inside) > 1;
                await Task.Yield(); // give a second writer the chance to overlap, if the gate let it
                var written = await InsertAsync(turn, $"u{i}");
                Interlocked.Decrement(ref inside);
                return written;
            }));
        Assert.False(overlapped);
        Assert.Equal(200, await CountAsync(database));
    }
}
