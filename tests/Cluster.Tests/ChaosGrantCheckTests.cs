using Xunit.Sdk;

namespace CollabAkka.Cluster.Tests;

/// <summary>The chaos run's check of the clients' lock evidence, on hand-made grant histories.</summary>
public sealed class ChaosGrantCheckTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static Grant At(long token, int askedMs, int grantedMs, int heldUntilMs) => new()
    {
        Resource = "document:1", User = $"u{token}", LockId = $"lock-{token:00000000}", Token = token,
        SentAt = T0.AddMilliseconds(askedMs), ReceivedAt = T0.AddMilliseconds(grantedMs), ReleaseSentAt = T0.AddMilliseconds(heldUntilMs),
    };

    [Fact]
    public void GrantsOneAfterAnotherWithIncreasingTokensPass()
    {
        ChaosRun.CheckClientGrants("document:1", [At(3, 200, 210, 300), At(1, 0, 10, 100), At(2, 100, 110, 200)]);
    }

    [Fact]
    public void TwoGrantsWithOneTokenFail()
    {
        var e = Assert.Throws<FailException>(() => ChaosRun.CheckClientGrants("document:1", [At(1, 0, 10, 100), At(1, 200, 210, 300)]));
        Assert.Contains("two grants with token 1", e.Message);
    }

    [Fact]
    public void AGrantAskedAfterAnotherWasAnsweredWithASmallerTokenFails()
    {
        // token 5 answered at 10 ms; token 2 asked at 500 ms, long after: tokens went backwards.
        var e = Assert.Throws<FailException>(() => ChaosRun.CheckClientGrants("document:1", [At(5, 0, 10, 100), At(7, 150, 160, 200), At(2, 500, 510, 600)]));
        Assert.Contains("smaller fencing token", e.Message);
    }

    [Fact]
    public void AGrantCertainlyHeldInsideAnotherOnesHoldingFails()
    {
        // token 1 certainly held 10–1000 ms (an acknowledged edit or release proves it); token 2 granted at 450 ms.
        var e = Assert.Throws<FailException>(() =>
            ChaosRun.CheckClientGrants("document:1", [At(2, 400, 450, 600), At(1, 0, 10, 1000)]));
        Assert.Contains("two holders at once", e.Message);
    }
}
