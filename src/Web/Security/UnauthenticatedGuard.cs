using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Security;

/// <summary>
/// Requests without a valid token: a token bucket per IP address (<see cref="SecurityOptions.UnauthenticatedRequestsPerIpPerSecond"/>,
/// <see cref="SecurityOptions.UnauthenticatedRequestBurst"/>) decides whether they run at all, and one node-wide
/// <see cref="AuditThrottle"/> how many of them (and of refused hub connections) are written to the audit trail.
/// </summary>
public sealed class UnauthenticatedGuard : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _limiter;

    public UnauthenticatedGuard(IOptions<SecurityOptions> options)
    {
        var o = options.Value;
        Options = o;
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip => RateLimitPartition.GetTokenBucketLimiter(ip, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = o.UnauthenticatedRequestBurst,
                TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(o.UnauthenticatedRequestsPerIpPerSecond)),
                ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(o.UnauthenticatedRequestsPerIpPerSecond)) / o.UnauthenticatedRequestsPerIpPerSecond),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
        Audit = new AuditThrottle(o.UnauthenticatedAuditPerWindow, o.AuditWindow);
    }

    public SecurityOptions Options { get; }

    /// <summary>Node-wide throttle of audit records about unauthenticated traffic.</summary>
    public AuditThrottle Audit { get; }

    /// <summary>Whether an unauthenticated request from <paramref name="ip"/> may run now.</summary>
    public bool TryAcquire(IPAddress? ip)
    {
        using var lease = _limiter.AttemptAcquire(ip ?? IPAddress.None);
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
