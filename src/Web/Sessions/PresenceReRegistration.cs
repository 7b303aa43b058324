using CollabAkka.Entities.Routing;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Sessions;

/// <summary>
/// When an entity starts a new incarnation (its owner died, its shard moved, or it was fenced) it has no members. It
/// announces itself to every node (<see cref="EntityActivated"/>); each node re-sends the joins of its own connections
/// to that root, with the modes they asked for. Clients stay connected: a lock they held is restored from the store
/// and reattaches to them; they see the presence events of the re-join and nothing they must handle.
/// </summary>
public sealed partial class PresenceReRegistration(ConnectionRegistry registry, IEntityRouter router, ILogger<PresenceReRegistration> logger)
{
    public void OnActivated(EntityActivated activated)
    {
        ArgumentNullException.ThrowIfNull(activated);
        foreach (var session in registry.All)
        {
            foreach (var (resource, mode) in session.JoinedUnder(activated.Root))
            {
                _ = ReJoinAsync(session, resource, mode, activated);
            }
        }
    }

    /// <summary>
    /// A command of this connection met a new incarnation that has not seen its re-registration yet (NOT_JOINED from
    /// an entity the session has joined): re-send the join now. Null when the session never joined the resource (then
    /// NOT_JOINED was the true answer); otherwise the entity's reply to the join (success or ALREADY_JOINED: the
    /// connection is a member again, so the command, refused without any effect, can be sent once more).
    /// </summary>
    public async Task<EntityReply?> ReJoinNowAsync(Session session, Messages.ResourceId resource, string correlationId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.JoinedMode(resource) is not { } mode)
        {
            return null;
        }
        return await router.SendAsync(new EntityEnvelope(resource, correlationId, new JoinResource(resource, session.Member, mode)),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task ReJoinAsync(Session session, Messages.ResourceId resource, JoinMode mode, EntityActivated activated)
    {
        var reply = await router.SendAsync(new EntityEnvelope(resource, $"re-register-{activated.Epoch}",
            new JoinResource(resource, session.Member, mode))).ConfigureAwait(false);
        // ALREADY_JOINED: the new incarnation had met this connection already (it joined again on its own).
        if (!reply.Success && reply.Error?.Code != Messages.ErrorCodes.AlreadyJoined)
        {
            ReLog.ReJoinRefused(logger, resource.Value, session.SessionId, reply.Error?.Code ?? "?");
        }
    }

    private static partial class ReLog
    {
        [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "Re-registering session {SessionId} in {Resource} after a move was refused: {Code}.")]
        public static partial void ReJoinRefused(ILogger logger, string resource, string sessionId, string code);
    }
}
