using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// Delivers entity events to this node's connections. Called on an entity's loop, so it only starts
/// the sends; SignalR queues per connection in call order, which keeps each entity's events ordered.
/// </summary>
public sealed partial class SignalREventSink(
    IHubContext<CollabHub> hub,
    NodeIdentity node,
    ConnectionRegistry registry,
    ILogger<SignalREventSink> logger) : IEntityEventSink
{
    public void Publish(EntityBroadcast broadcast)
    {
        ForgetRevokedJoin(broadcast);
        var ids = new List<string>(broadcast.Recipients.Count);
        foreach (var recipient in broadcast.Recipients)
        {
            if (recipient.NodeId == node.NodeId)
            {
                ids.Add(recipient.ConnectionId);
            }
        }
        if (ids.Count == 0)
        {
            return;
        }
        var wire = broadcast.Event.ToWire();
        var send = hub.Clients.Clients(ids).SendAsync(wire.Event, wire);
        if (!send.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(send, wire.Event);
        }
    }

    // A resource removed a connection of this node because a reload took its role's canView: the session forgets the
    // join, so it is not re-registered when the entity moves (the join would be refused anyway).
    private void ForgetRevokedJoin(EntityBroadcast broadcast)
    {
        if (broadcast.Event is not { Event: EventNames.UserLeft, Payload: UserPresencePayload { Reason: PresenceReasons.PermissionRevoked } left })
        {
            return;
        }
        foreach (var recipient in broadcast.Recipients)
        {
            if (recipient.NodeId == node.NodeId && registry.Get(recipient.ConnectionId) is { } session && session.SessionId == left.User.SessionId &&
                ResourceId.TryParse(broadcast.Event.ResourceId, out var resource, out _))
            {
                session.Left(resource);
            }
        }
    }

    private async Task ObserveAsync(Task send, string eventName)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failed send to a closing connection is logged, never thrown into the entity.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SinkLog.SendFailed(logger, ex, eventName);
        }
    }

    private static partial class SinkLog
    {
        [LoggerMessage(EventId = 3300, Level = LogLevel.Debug, Message = "Sending {EventName} failed.")]
        public static partial void SendFailed(ILogger logger, Exception exception, string eventName);
    }
}
