using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

public sealed class LockRaceTests
{
    private static async Task<List<CollabTestClient>> ConnectManyAsync(CollabTestNode node, string prefix, int count)
    {
        var tasks = Enumerable.Range(0, count).Select(i => node.ConnectAsync($"{prefix}{i}", $"Clinician {i}"));
        return [.. await Task.WhenAll(tasks)];
    }

    [Fact]
    public async Task FiftyConnectionsRacingForOneFreeLockHaveExactlyOneWinnerEveryRoundAndTokensIncrease()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Connections:InvocationsPerSecond"] = "10000", ["Collab:Connections:InvocationBurst"] = "10000" },
        });
        var doc = "document:race/tab:orders";
        var clients = await ConnectManyAsync(node, "racer", 50);
        try
        {
            foreach (var c in clients)
            {
                Assert.True((await c.JoinAsync(doc, "viewer")).Success);
            }
            long lastToken = 0;
            for (var round = 0; round < 200; round++)
            {
                var results = await Task.WhenAll(clients.Select(c => c.AcquireLockAsync(doc)));
                var winners = results.Select((r, i) => (r, i)).Where(x => x.r.Success).ToList();
                var (won, index) = Assert.Single(winners);
                var winnerId = clients[index].UserId;
                var token = won.Data.GetProperty("fencingToken").GetInt64();
                Assert.True(token > lastToken, $"round {round}: token {token} after {lastToken}");
                lastToken = token;
                foreach (var loser in results.Where(r => !r.Success))
                {
                    Assert.Equal("LOCK_HELD", loser.Error!.Code);
                    Assert.Equal(winnerId, loser.Error.Details.GetProperty("holder").GetProperty("userId").GetString());
                }
                Assert.True((await clients[index].ReleaseLockAsync(doc)).Success);
            }
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task RacingForAPatientChartAdmitsExactlyMaxConcurrentEditors()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Connections:InvocationsPerSecond"] = "10000", ["Collab:Connections:InvocationBurst"] = "10000" },
        });
        var chart = "patient-chart:race";
        var clients = await ConnectManyAsync(node, "chart", 50);
        try
        {
            foreach (var c in clients)
            {
                await c.JoinAsync(chart, "viewer");
            }
            long lastToken = 0;
            for (var round = 0; round < 20; round++)
            {
                var results = await Task.WhenAll(clients.Select(c => c.AcquireLockAsync(chart)));
                var winners = results.Select((r, i) => (r, i)).Where(x => x.r.Success).ToList();
                Assert.Equal(3, winners.Count);
                Assert.All(results.Where(r => !r.Success), r => Assert.Equal("MAX_EDITORS_REACHED", r.Error!.Code));
                var tokens = winners.Select(w => w.r.Data.GetProperty("fencingToken").GetInt64()).Order().ToList();
                Assert.Equal(3, tokens.Distinct().Count());
                Assert.True(tokens[0] > lastToken);
                lastToken = tokens[^1];
                foreach (var (_, i) in winners)
                {
                    Assert.True((await clients[i].ReleaseLockAsync(chart)).Success);
                }
            }
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}
