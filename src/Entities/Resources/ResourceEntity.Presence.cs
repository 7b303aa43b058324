using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Resources;

// Presence: who is in which resource of this family. Server-authoritative; events go only to members.
internal sealed partial class ResourceEntity
{
    private sealed class Member(MemberInfo info, JoinMode mode, DateTimeOffset joinedAt, string? joinCorrelationId = null)
    {
        public MemberInfo Info { get; } = info;
        public JoinMode Mode { get; set; } = mode;
        public DateTimeOffset JoinedAt { get; } = joinedAt;

        /// <summary>The request that joined: the router's retry of it is answered as a join, not ALREADY_JOINED.</summary>
        public string? JoinCorrelationId { get; } = joinCorrelationId;

        public PresenceUser ToWire() =>
            new(Info.UserId, Info.Username, Info.Role, Mode == JoinMode.Editor ? "editor" : "viewer", JoinedAt, Info.SessionId);
    }

    private sealed class ResourceRoom(ResourceId id, ResourcePolicy policy)
    {
        public ResourceId Id { get; } = id;
        public ResourcePolicy Policy { get; set; } = policy; // replaced when the catalog is reloaded
        public OrderedDictionary<string, Member> Members { get; } = new(StringComparer.Ordinal);
        public long Revision { get; set; }
        public List<EditorLock> Locks { get; } = [];
        public long LastToken { get; set; }
        public DocumentState? Document { get; set; }

        /// <summary>Awareness client id -> its latest state, kept so a newcomer sees existing cursors and focus at once.</summary>
        public Dictionary<long, AwarenessState> Awareness { get; } = [];

        public int CountMode(JoinMode mode)
        {
            var n = 0;
            foreach (var member in Members.Values)
            {
                if (member.Mode == mode)
                {
                    n++;
                }
            }
            return n;
        }
    }

    // Resource id -> room; insertion-ordered so snapshots are stable.
    private readonly OrderedDictionary<string, ResourceRoom> _rooms = new(StringComparer.Ordinal);

    // Connection id -> the resources of this family it joined.
    private readonly Dictionary<string, List<string>> _connections = new(StringComparer.Ordinal);

    // canView (resources.yml): a role the type does not list, or a token without a role, may not even read.
    private EntityReply RefuseView(JoinResource join, ResourcePolicy policy, string correlationId)
    {
        Audit(AuditEventTypes.JoinDenied, join.Member, join.Resource, correlationId, new Dictionary<string, object?>
        {
            ["code"] = ErrorCodes.PermissionDenied,
            ["role"] = join.Member.Role,
        });
        return EntityReply.Refuse(ErrorCodes.PermissionDenied, join.Member.Role.Length == 0
            ? $"A token without a role may not open {policy.TypeKey} resources."
            : $"Role '{join.Member.Role}' may not view {policy.TypeKey} resources ({_runtime.Catalog.Source}: canView).");
    }

    private async Task<EntityReply> OnJoinAsync(JoinResource join, string correlationId)
    {
        var policy = _runtime.Catalog.Resolve(join.Resource);
        if (policy is null)
        {
            return EntityReply.Refuse(ErrorCodes.ValidationFailed,
                $"Resource type '{join.Resource.Type}' is not configured in {_runtime.Catalog.Source}.");
        }
        if (!policy.For(join.Member.Role).CanView)
        {
            return RefuseView(join, policy, correlationId);
        }
        var room = GetOrCreateRoom(join.Resource, policy);
        var member = join.Member;
        var requested = join.RequestedMode == JoinMode.Editor ? "editor" : "viewer";
        if (room.Members.TryGetValue(member.ConnectionId, out var present))
        {
            // The same request again: the router re-sent it after an attempt went unanswered (a slow first load, or an
            // owner that died), so the first copy may have joined already. It gets the join's answer, as of now.
            return present.JoinCorrelationId == correlationId
                ? JoinReply(room, present, requested, null, room.Locks.FirstOrDefault(l => l.ConnectionId == member.ConnectionId), null)
                : EntityReply.Refuse(ErrorCodes.AlreadyJoined, $"This connection already joined {join.Resource.Value}.");
        }
        await EnsureDocumentAsync(room).ConfigureAwait(false); // the answer carries the document's revision

        var entry = new Member(member, JoinMode.Viewer, Now, correlationId);
        string? reason = null;
        LockDenied? denied = null;
        EditorLock? granted = null;
        if (join.RequestedMode == JoinMode.Editor)
        {
            var permissions = policy.For(member.Role);
            if (!permissions.CanEdit || !permissions.CanLock)
            {
                reason = $"Role '{member.Role}' may not edit {policy.TypeKey} resources; joined as viewer.";
            }
            else
            {
                (granted, denied) = await TryGrantAsync(room, entry, policy.LockTtl, correlationId).ConfigureAwait(false);
                reason = denied?.Message;
            }
        }
        else if (room.Locks.FirstOrDefault(l => l.ConnectionId is null && l.SessionId == member.SessionId && l.UserId == member.UserId) is { } held
                 && policy.For(member.Role) is { CanEdit: true, CanLock: true })
        {
            // This very session held the lock before its entity moved (it joined as viewer, then lock:acquire), and its
            // node re-registers it with the mode it joined with: the restored lock is its own again, as editor.
            Reattach(room, held, entry, correlationId);
            granted = held;
        }
        if (entry.Mode == JoinMode.Viewer && policy.MaxViewers is { } maxViewers && room.CountMode(JoinMode.Viewer) >= maxViewers)
        {
            return EntityReply.Refuse(ErrorCodes.MaxViewersReached,
                $"{join.Resource.Value} already has its maximum of {maxViewers} viewers.",
                new MaxViewersDetails(maxViewers));
        }

        room.Members.Add(member.ConnectionId, entry);
        if (!_connections.TryGetValue(member.ConnectionId, out var joined))
        {
            _connections[member.ConnectionId] = joined = [];
        }
        joined.Add(join.Resource.Value);

        var user = entry.ToWire();
        SendAwarenessSnapshot(room, member);
        Broadcast(room, EventNames.UserJoined, new UserPresencePayload(user, null, room.Members.Count),
            new TriggeredBy(member.UserId, member.Username, MethodNames.Join), except: member.ConnectionId);
        BroadcastAllUsers(new TriggeredBy(member.UserId, member.Username, MethodNames.Join));
        Audit(AuditEventTypes.Join, member, join.Resource, correlationId, new Dictionary<string, object?>
        {
            ["mode"] = user.Mode,
            ["requestedMode"] = requested,
            ["reason"] = reason,
        });

        return JoinReply(room, entry, requested, reason, granted, denied);
    }

    private static EntityReply JoinReply(ResourceRoom room, Member entry, string requested, string? reason, EditorLock? granted, LockDenied? denied) =>
        EntityReply.Ok(new JoinResult(
            room.Id.Value,
            room.Id.Root.Value,
            entry.ToWire().Mode,
            requested,
            reason,
            room.Members.Values.Select(m => m.ToWire()).ToList(),
            room.Revision,
            granted?.ToWire(),
            denied,
            room.Locks.Select(l => l.ToWire()).ToList()), room.Revision);

    private async Task<EntityReply> OnLeaveAsync(LeaveResource leave, string correlationId)
    {
        if (!_rooms.TryGetValue(leave.Resource.Value, out var room) ||
            !room.Members.TryGetValue(leave.ConnectionId, out var member))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"This connection has not joined {leave.Resource.Value}.");
        }
        // Leaving gives the lock up at once (no grace period: the user chose to go).
        if (room.Locks.FirstOrDefault(l => l.ConnectionId == leave.ConnectionId) is { } held)
        {
            await EndLockAsync(room, held, EventNames.LockReleased, "left", member.Info, null, correlationId).ConfigureAwait(false);
        }
        RemoveMember(room, member, "left", MethodNames.Leave, correlationId);
        BroadcastAllUsers(new TriggeredBy(member.Info.UserId, member.Info.Username, MethodNames.Leave));
        return EntityReply.Ok(new LeaveResult(leave.Resource.Value));
    }

    private EntityReply OnDisconnect(DisconnectMember disconnect, string correlationId)
    {
        DetachLocks(disconnect.ConnectionId);
        if (!_connections.TryGetValue(disconnect.ConnectionId, out var joined))
        {
            return EntityReply.Ok();
        }
        Member? last = null;
        foreach (var resourceId in joined.ToArray())
        {
            var room = _rooms[resourceId];
            last = room.Members[disconnect.ConnectionId];
            RemoveMember(room, last, disconnect.Reason, "disconnect", correlationId);
        }
        if (last is not null)
        {
            BroadcastAllUsers(new TriggeredBy(last.Info.UserId, last.Info.Username, "disconnect"));
        }
        return EntityReply.Ok();
    }

    /// <summary>
    /// A node is gone (cluster membership said so): its connections leave every resource of this family at once, their
    /// locks go into the grace period, and everyone left hears <c>resource:all_users</c> once.
    /// </summary>
    private EntityReply OnNodeGone(DisconnectNode gone, string correlationId)
    {
        var connections = new List<string>();
        foreach (var room in _rooms.Values)
        {
            foreach (var member in room.Members.Values)
            {
                if (member.Info.NodeId == gone.NodeId)
                {
                    connections.Add(member.Info.ConnectionId);
                }
            }
        }
        Member? last = null;
        foreach (var connectionId in connections.Distinct(StringComparer.Ordinal))
        {
            DetachLocks(connectionId);
            if (!_connections.TryGetValue(connectionId, out var joined))
            {
                continue;
            }
            foreach (var resourceId in joined.ToArray())
            {
                var room = _rooms[resourceId];
                last = room.Members[connectionId];
                RemoveMember(room, last, gone.Reason, "node_lost", correlationId);
            }
        }
        if (last is not null)
        {
            BroadcastAllUsers(new TriggeredBy(last.Info.UserId, last.Info.Username, "node_lost"));
        }
        return EntityReply.Ok();
    }

    private EntityReply OnGetState(GetResourceState query)
    {
        var resources = new List<SubResourceUsers>();
        var locks = new List<LockView>();
        var users = new HashSet<string>(StringComparer.Ordinal);
        long revision = 0;
        foreach (var room in _rooms.Values)
        {
            if (!query.Resource.IsRoot && room.Id.Value != query.Resource.Value)
            {
                continue;
            }
            if (room.Id.Value == query.Resource.Value)
            {
                revision = room.Revision;
            }
            resources.Add(new SubResourceUsers(room.Id.Value, room.Members.Values.Select(m => m.ToWire()).ToList()));
            locks.AddRange(room.Locks.Select(l => l.ToWire()));
            foreach (var member in room.Members.Values)
            {
                users.Add(member.Info.UserId);
            }
        }
        return EntityReply.Ok(new ResourceStateView(query.Resource.Value, Root.Value, revision, resources, locks, users.Count, _runtime.NodeId, Epoch));
    }

    /// <summary><paramref name="tellMember"/>: the removed connection hears its own <c>user:left</c> too (it did not leave by itself).</summary>
    private void RemoveMember(ResourceRoom room, Member member, string reason, string action, string correlationId, bool tellMember = false)
    {
        var connectionId = member.Info.ConnectionId;
        room.Members.Remove(connectionId);
        EndRequestsOf(room, member.Info, correlationId);
        if (_connections.TryGetValue(connectionId, out var joined))
        {
            joined.Remove(room.Id.Value);
            if (joined.Count == 0)
            {
                _connections.Remove(connectionId);
            }
        }
        ClearAwareness(room, member.Info);
        var left = new UserPresencePayload(member.ToWire(), reason, room.Members.Count);
        var by = new TriggeredBy(member.Info.UserId, member.Info.Username, action);
        Broadcast(room, EventNames.UserLeft, left, by, except: null);
        if (tellMember)
        {
            _runtime.Events.Publish(new EntityBroadcast([new Recipient(member.Info.NodeId, connectionId)],
                new EntityEvent(EventNames.UserLeft, room.Id.Value, left, by, room.Revision, Now)));
        }
        Audit(AuditEventTypes.Leave, member.Info, room.Id, correlationId, new Dictionary<string, object?> { ["reason"] = reason });
    }

    private ResourceRoom GetOrCreateRoom(ResourceId id, ResourcePolicy policy)
    {
        if (!_rooms.TryGetValue(id.Value, out var room))
        {
            room = new ResourceRoom(id, policy);
            _rooms.Add(id.Value, room);
        }
        return room;
    }

    /// <summary>Sends an event to the members of one resource.</summary>
    private void Broadcast(ResourceRoom room, string eventName, IEventPayload payload, TriggeredBy? by, string? except)
    {
        var recipients = new List<Recipient>(room.Members.Count);
        foreach (var member in room.Members.Values)
        {
            if (member.Info.ConnectionId != except)
            {
                recipients.Add(new Recipient(member.Info.NodeId, member.Info.ConnectionId));
            }
        }
        if (recipients.Count == 0)
        {
            return;
        }
        _runtime.Events.Publish(new EntityBroadcast(recipients, new EntityEvent(eventName, room.Id.Value, payload, by, room.Revision, Now)));
    }

    /// <summary>Sends <c>resource:all_users</c> to every member of every resource of this family.</summary>
    private void BroadcastAllUsers(TriggeredBy by)
    {
        var recipients = new List<Recipient>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var users = new HashSet<string>(StringComparer.Ordinal);
        var groups = new List<SubResourceUsers>();
        foreach (var room in _rooms.Values)
        {
            if (room.Members.Count == 0)
            {
                continue;
            }
            groups.Add(new SubResourceUsers(room.Id.Value, room.Members.Values.Select(m => m.ToWire()).ToList()));
            foreach (var member in room.Members.Values)
            {
                users.Add(member.Info.UserId);
                if (seen.Add(member.Info.ConnectionId))
                {
                    recipients.Add(new Recipient(member.Info.NodeId, member.Info.ConnectionId));
                }
            }
        }
        if (recipients.Count == 0)
        {
            return;
        }
        var payload = new AllUsersPayload(Root.Value, users.Count, groups);
        _runtime.Events.Publish(new EntityBroadcast(recipients, new EntityEvent(EventNames.AllUsers, Root.Value, payload, by, 0, Now)));
    }

    private void Audit(string eventType, MemberInfo member, ResourceId resource, string correlationId,
        IReadOnlyDictionary<string, object?>? details)
    {
        _runtime.Audit.Record(AuditEvent.For(member, eventType, Now, resource.Value, correlationId, details));
    }
}
