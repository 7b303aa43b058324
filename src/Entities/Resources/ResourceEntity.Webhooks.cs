using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Resources;

// External updates (webhooks): the entity knows who is joined, so it fans the event out like its own broadcasts.
internal sealed partial class ResourceEntity
{
    private EntityReply OnResourceUpdated(NotifyResourceUpdated notify)
    {
        var recipients = new List<Recipient>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long revision = 0;
        foreach (var room in _rooms.Values)
        {
            if (room.Id != notify.Resource && !notify.Resource.IsRoot)
            {
                continue;
            }
            if (room.Id == notify.Resource)
            {
                revision = room.Revision;
            }
            foreach (var member in room.Members.Values)
            {
                if (seen.Add(member.Info.ConnectionId))
                {
                    recipients.Add(new Recipient(member.Info.NodeId, member.Info.ConnectionId));
                }
            }
        }
        if (recipients.Count > 0)
        {
            _runtime.Events.Publish(new EntityBroadcast(recipients,
                new EntityEvent(EventNames.ResourceUpdated, notify.Resource.Value, notify.Payload, notify.TriggeredBy, revision, Now)));
        }
        return EntityReply.Ok(new ResourceUpdatedResult(recipients.Count));
    }
}
