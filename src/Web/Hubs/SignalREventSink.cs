using CollabAkka.Entities.Routing;
using CollabAkka.Messages.Entity;
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
    ILogger<SignalREventSink> logger) : IEntityEventSink
{
    public void Publish(EntityBroadcast broadcast)
    {
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
