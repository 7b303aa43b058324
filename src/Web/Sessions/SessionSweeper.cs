using CollabAkka.Entities.Routing;
using Microsoft.Extensions.DependencyInjection;
using CollabAkka.Entities.Audit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Sessions;

/// <summary>
/// Every <see cref="ConnectionOptions.SweepInterval"/>, closes sessions quiet for longer than
/// <see cref="ConnectionOptions.SessionTtl"/> and cleans them up (even when the transport is too dead
/// to report its own close). Time comes from the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class SessionSweeper(
    ConnectionRegistry registry,
    SessionLifecycle lifecycle,
    IAuditSink audit,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    IOptions<ConnectionOptions> options,
    ILogger<SessionSweeper> logger) : BackgroundService
{
    /// <summary>Raised after each sweep with the number of sessions closed (for tests and metrics).</summary>
    public event Action<int>? Swept;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var closed = await SweepOnceAsync().ConfigureAwait(false);
                Swept?.Invoke(closed);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task<int> SweepOnceAsync()
    {
        var now = time.GetUtcNow();
        var ttl = options.Value.SessionTtl;
        var closed = 0;
        foreach (var session in registry.All)
        {
            if (now - session.LastActivity <= ttl)
            {
                continue;
            }
            var member = session.Member;
            audit.Record(AuditEvent.For(member, AuditEventTypes.SessionExpired, now, details: new Dictionary<string, object?>
            {
                ["lastActivity"] = session.LastActivity,
                ["ttlSeconds"] = ttl.TotalSeconds,
            }));
            SweepLog.Expired(logger, session.SessionId, session.UserId);
            session.Abort();
            await lifecycle.EndAsync(session.ConnectionId, "session_expired").ConfigureAwait(false);
            closed++;
        }
        return closed;
    }

    private static partial class SweepLog
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} expired; closing it.")]
        public static partial void Expired(ILogger logger, string sessionId, string userId);
    }
}
