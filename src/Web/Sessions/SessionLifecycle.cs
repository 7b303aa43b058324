using Microsoft.Extensions.DependencyInjection;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Sessions;

/// <summary>
/// Ends sessions the same way whoever ends them (the client closing, the sweeper, a shutdown): remove
/// from the registry once, tell every root the connection joined, audit. Safe to call twice.
/// </summary>
public sealed partial class SessionLifecycle(
    ConnectionRegistry registry,
    IEntityRouter router,
    IAuditSink audit,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    ILogger<SessionLifecycle> logger)
{
    public async Task EndAsync(string connectionId, string reason, string? error = null)
    {
        var session = registry.Remove(connectionId);
        if (session is null)
        {
            return;
        }
        session.MarkEnded();
        var roots = session.Roots;
        var correlationId = Guid.NewGuid().ToString("N");
        foreach (var root in roots)
        {
            try
            {
                await router.SendAsync(new EntityEnvelope(ResourceId.Parse(root), correlationId,
                    new DisconnectMember(connectionId, reason))).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // One failing root must not keep the others from hearing of the disconnect.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SessionLog.DisconnectDeliveryFailed(logger, ex, root, session.SessionId);
            }
        }
        var member = session.Member;
        audit.Record(AuditEvent.For(member, AuditEventTypes.Disconnect, time.GetUtcNow(), correlationId: correlationId,
            details: new Dictionary<string, object?>
            {
                ["reason"] = reason,
                ["error"] = error,
                ["roots"] = roots,
                ["durationSeconds"] = Math.Round((time.GetUtcNow() - session.ConnectedAt).TotalSeconds, 3),
            }));
        SessionLog.Ended(logger, session.SessionId, session.UserId, reason);
    }

    private static partial class SessionLog
    {
        [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} ended: {Reason}.")]
        public static partial void Ended(ILogger logger, string sessionId, string userId, string reason);

        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Could not tell {Root} that session {SessionId} ended.")]
        public static partial void DisconnectDeliveryFailed(ILogger logger, Exception exception, string root, string sessionId);
    }
}
