using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using CollabAkka.Yjs;

namespace CollabAkka.Entities.Resources;

// Lock hand-over requests (issue 15 §1), decided here like every other lock decision: no second copy of lock state.
//  - a member whose role may lock asks the holder of the resource's lock for it (lock:request, optional short reason);
//    the holder's connection is told (lock:requested);
//  - the holder hands over (the lock ends and a NEW lock with token last+1 goes to the requester, written to the store
//    with this incarnation's epoch before anyone hears of it) or declines; or ignores it;
//  - at the request's deadline (lockRequestTimeout of the resource type) the lock passes by itself only when the holder
//    is idle: no document update from the holder's connection and no awareness focus of it in this resource for that
//    long. A holder whose awareness shows a focus right now is never idle, so a typing holder is never interrupted;
//    the request then ends as expired;
//  - a request ends with its requester (leave, disconnect) and with the lock (release, expiry, force-release, leave).
// The deadline timer, like the lock timer, only posts a LockRequestTick back to the entity.
internal sealed partial class ResourceEntity
{
    private sealed class PendingLockRequest
    {
        public required string Id { get; init; }
        public required ResourceRoom Room { get; init; }
        public required MemberInfo Requester { get; init; }
        public required EditorLock Lock { get; init; }
        public required string? Reason { get; init; }
        public required DateTimeOffset RequestedAt { get; init; }
        public required DateTimeOffset Deadline { get; init; }

        public LockRequestView ToWire() => new(Id, Room.Id.Value, new LockHolder(Requester.UserId, Requester.Username), Lock.Holder,
            Lock.LockId, Reason, RequestedAt, Deadline);
    }

    private readonly List<PendingLockRequest> _lockRequests = [];

    // Lock id -> the last time its holder's connection edited or had an awareness focus in the lock's resource.
    private readonly Dictionary<string, DateTimeOffset> _holderActivity = new(StringComparer.Ordinal);

    private ITimer? _requestTimer;

    private EntityReply OnRequestLock(RequestLock ask, string correlationId)
    {
        if (!_rooms.TryGetValue(ask.Resource.Value, out var room) || !room.Members.TryGetValue(ask.Member.ConnectionId, out _))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"Join {ask.Resource.Value} before asking for its lock.");
        }
        var permissions = room.Policy.For(ask.Member.Role);
        if (!permissions.CanLock || !permissions.CanEdit)
        {
            return EntityReply.Refuse(ErrorCodes.PermissionDenied, $"Role '{ask.Member.Role}' may not lock {room.Policy.TypeKey} resources.");
        }
        var reason = string.IsNullOrWhiteSpace(ask.Reason) ? null : ask.Reason.Trim();
        var maxReason = _runtime.Options.MaxLockRequestReasonLength;
        if (reason is not null && reason.Length > maxReason)
        {
            return EntityReply.Refuse(ErrorCodes.ValidationFailed,
                $"reason may be at most {maxReason} characters (Collab:Entities:MaxLockRequestReasonLength).");
        }
        if (room.Locks.Any(l => l.UserId == ask.Member.UserId))
        {
            return EntityReply.Refuse(ErrorCodes.InvalidStateTransition, $"You hold the lock of {room.Id.Value} already.");
        }
        if (room.Locks.Count == 0)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, FamilyConflict(room) is { } parent
                ? $"{room.Id.Value} is locked through {parent.Resource.Value}; ask there."
                : $"{room.Id.Value} is not locked: take the lock with lock:acquire.");
        }
        if (_lockRequests.FirstOrDefault(r => r.Room == room && r.Requester.ConnectionId == ask.Member.ConnectionId) is { } existing)
        {
            return EntityReply.Ok(existing.ToWire()); // asking again while waiting is a no-op
        }
        if (_lockRequests.Count(r => r.Room == room) >= _runtime.Options.MaxLockRequestsPerResource)
        {
            return EntityReply.Refuse(ErrorCodes.RateLimited,
                $"{room.Id.Value} already has {_runtime.Options.MaxLockRequestsPerResource} pending lock requests (Collab:Entities:MaxLockRequestsPerResource).");
        }
        var target = room.Locks.MinBy(l => l.AcquiredAt)!;
        var now = StoreNow;
        var request = new PendingLockRequest
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Room = room,
            Requester = ask.Member,
            Lock = target,
            Reason = reason,
            RequestedAt = now,
            Deadline = now + room.Policy.RequestTimeout,
        };
        _lockRequests.Add(request);
        var view = request.ToWire();
        if (target.ConnectionId is { } holderConnection && room.Members.TryGetValue(holderConnection, out var holder))
        {
            SendTo([holder.Info], room, EventNames.LockRequested, view, By(ask.Member, MethodNames.LockRequest));
        }
        Audit("LOCK_REQUESTED", ask.Member, room.Id, correlationId, new Dictionary<string, object?>
        {
            ["lockRequestId"] = request.Id, ["lockId"] = target.LockId, ["holder"] = target.UserId, ["fencingToken"] = target.FencingToken,
            ["reason"] = reason, ["autoPassAt"] = request.Deadline,
        });
        ScheduleRequestTimer();
        return EntityReply.Ok(view);
    }

    private async Task<EntityReply> OnAnswerLockRequestAsync(AnswerLockRequest answer, string correlationId)
    {
        var request = _lockRequests.FirstOrDefault(r => r.Id == answer.LockRequestId && r.Room.Id.Value == answer.Resource.Value);
        if (request is null)
        {
            return EntityReply.Refuse(ErrorCodes.InvalidStateTransition,
                $"Lock request {answer.LockRequestId} is not pending on {answer.Resource.Value} (answered, expired or ended).");
        }
        var lk = request.Lock;
        if (lk.UserId != answer.Member.UserId || lk.ConnectionId != answer.Member.ConnectionId)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, $"Only the connection holding the lock of {answer.Resource.Value} may answer its requests.");
        }
        if (!answer.HandOver)
        {
            EndRequest(request, "declined", answer.Member, correlationId);
            return EntityReply.Ok(Declined(request, "declined", answer.Member));
        }
        var handed = await HandOverAsync(request, answer.Member, automatic: false, correlationId).ConfigureAwait(false);
        return handed is null ? Moved() : EntityReply.Ok(handed);
    }

    /// <summary>Requests whose deadline passed: hand over if the holder is idle, else expire.</summary>
    private async Task<EntityReply> OnLockRequestTickAsync()
    {
        var now = Now;
        foreach (var request in _lockRequests.Where(r => r.Deadline <= now).ToList())
        {
            if (!_lockRequests.Contains(request))
            {
                continue; // ended by an earlier hand-over in this tick
            }
            var idle = HolderIdle(request.Room, request.Lock, now);
            Audit("LOCK_REQUEST_EXPIRED", request.Requester, request.Room.Id, "lock-request-timeout", new Dictionary<string, object?>
            {
                ["lockRequestId"] = request.Id, ["lockId"] = request.Lock.LockId, ["holder"] = request.Lock.UserId,
                ["outcome"] = idle ? "handed_over" : "kept", ["holderIdle"] = idle,
            });
            if (idle)
            {
                await HandOverAsync(request, null, automatic: true, "lock-request-timeout").ConfigureAwait(false);
                if (Fenced)
                {
                    return EntityReply.Ok();
                }
            }
            else
            {
                EndRequest(request, "expired", null, "lock-request-timeout", audit: false);
            }
        }
        ScheduleRequestTimer();
        return EntityReply.Ok();
    }

    /// <summary>
    /// Ends <paramref name="request"/>'s lock and gives a new one (token last+1) to its requester: written first, then applied
    /// and announced. Null when the write was fenced (nothing changed, this incarnation stops).
    /// </summary>
    private async Task<LockHandedOver?> HandOverAsync(PendingLockRequest request, MemberInfo? by, bool automatic, string correlationId)
    {
        var room = request.Room;
        var old = request.Lock;
        var requester = room.Members[request.Requester.ConnectionId];
        var now = StoreNow;
        var ttl = room.Policy.LockTtl;
        var lk = new EditorLock
        {
            LockId = Guid.CreateVersion7().ToString("N"),
            Resource = room.Id,
            UserId = requester.Info.UserId,
            Username = requester.Info.Username,
            Role = requester.Info.Role,
            SessionId = requester.Info.SessionId,
            AcquiredAt = now,
            ExpiresAt = now + ttl,
            FencingToken = room.LastToken + 1,
            Ttl = ttl,
            ConnectionId = requester.Info.ConnectionId,
        };
        if (!Written(await _runtime.Locks.SaveAsync(lk.ToRecord(), Epoch, CancellationToken.None).ConfigureAwait(false)))
        {
            return null;
        }
        try
        {
            if (!Written(await _runtime.Locks.DeleteAsync(room.Id.Value, old.LockId, Epoch, CancellationToken.None).ConfigureAwait(false)))
            {
                return null;
            }
        }
        catch (StoreUnavailableException ex)
        {
            // The new lock is durable; the old record would come back after a restart only until its TTL.
            EntityLog.LockWriteFailed(_logger, ex, room.Id.Value);
        }
        room.LastToken = lk.FencingToken;
        room.Locks.Remove(old);
        room.Locks.Add(lk);
        _holderActivity.Remove(old.LockId);
        _lockRequests.Remove(request);
        if (old.ConnectionId is { } former && room.Members.TryGetValue(former, out var formerHolder))
        {
            formerHolder.Mode = JoinMode.Viewer;
        }
        requester.Mode = JoinMode.Editor;
        var payload = new LockHandedOver(request.Id, old.Holder, lk.Holder, lk.ToWire(), old.LockId, old.FencingToken, automatic);
        var trigger = by is null ? new TriggeredBy(old.UserId, old.Username, "lock_request_timeout") : By(by, MethodNames.LockRequestAnswer);
        Broadcast(room, EventNames.LockHandedOver, payload, trigger, except: null);
        BroadcastAllUsers(trigger); // the former holder is a viewer, the requester an editor
        Audit("LOCK_HANDED_OVER", by ?? request.Requester, room.Id, correlationId, new Dictionary<string, object?>
        {
            ["lockRequestId"] = request.Id, ["automatic"] = automatic, ["from"] = old.UserId, ["to"] = lk.UserId,
            ["previousLockId"] = old.LockId, ["previousFencingToken"] = old.FencingToken, ["lockId"] = lk.LockId, ["fencingToken"] = lk.FencingToken,
        });
        // Other requests were for the lock that ended: they end with it.
        foreach (var other in _lockRequests.Where(r => r.Lock == old).ToList())
        {
            EndRequest(other, "superseded", null, correlationId);
        }
        ScheduleLockTimer();
        ScheduleRequestTimer();
        return payload;
    }

    /// <summary>Ends a request without a hand-over: the requester and the holder are told, the step audited.</summary>
    private void EndRequest(PendingLockRequest request, string reason, MemberInfo? by, string correlationId, bool audit = true)
    {
        _lockRequests.Remove(request);
        var room = request.Room;
        var payload = Declined(request, reason, by);
        var recipients = new List<MemberInfo>(2);
        if (room.Members.TryGetValue(request.Requester.ConnectionId, out var requester))
        {
            recipients.Add(requester.Info);
        }
        if (request.Lock.ConnectionId is { } holderConnection && room.Members.TryGetValue(holderConnection, out var holder))
        {
            recipients.Add(holder.Info);
        }
        SendTo(recipients, room, EventNames.LockRequestDeclined, payload,
            by is null ? null : By(by, MethodNames.LockRequestAnswer));
        if (audit)
        {
            Audit(reason == "declined" ? "LOCK_REQUEST_DECLINED" : "LOCK_REQUEST_ENDED", by ?? request.Requester, room.Id, correlationId,
                new Dictionary<string, object?>
                {
                    ["lockRequestId"] = request.Id, ["lockId"] = request.Lock.LockId, ["holder"] = request.Lock.UserId,
                    ["requester"] = request.Requester.UserId, ["reason"] = reason,
                });
        }
        ScheduleRequestTimer();
    }

    private static LockRequestDeclined Declined(PendingLockRequest request, string reason, MemberInfo? by) =>
        new(request.Id, request.Room.Id.Value, new LockHolder(request.Requester.UserId, request.Requester.Username),
            by is null ? null : new LockHolder(by.UserId, by.Username), reason, reason == "expired");

    /// <summary>Hook: a lock ended (release, expiry, force-release, leave, grace): its requests end with it.</summary>
    private void EndRequestsForLock(EditorLock lk, string correlationId)
    {
        _holderActivity.Remove(lk.LockId);
        foreach (var request in _lockRequests.Where(r => r.Lock == lk).ToList())
        {
            EndRequest(request, "lock_ended", null, correlationId);
        }
    }

    /// <summary>Hook: a member left a resource (leave or disconnect): its requests there end.</summary>
    private void EndRequestsOf(ResourceRoom room, MemberInfo member, string correlationId)
    {
        foreach (var request in _lockRequests.Where(r => r.Room == room && r.Requester.ConnectionId == member.ConnectionId).ToList())
        {
            EndRequest(request, "requester_left", null, correlationId);
        }
    }

    /// <summary>Hook: a document change from <paramref name="member"/> was accepted; a holder who edits is active.</summary>
    private void NoteDocumentActivity(ResourceId resource, MemberInfo member)
    {
        if (_rooms.TryGetValue(resource.Value, out var room) && room.Locks.FirstOrDefault(l => l.ConnectionId == member.ConnectionId) is { } lk)
        {
            _holderActivity[lk.LockId] = Now;
        }
    }

    /// <summary>
    /// Hook: an awareness update from <paramref name="connectionId"/> arrived. A holder whose focus is set before or after it
    /// (focusing, moving, blurring) was focused until now.
    /// </summary>
    private void NoteAwarenessActivity(ResourceRoom room, string connectionId, IReadOnlyList<YAwarenessEntry> entries)
    {
        if (room.Locks.FirstOrDefault(l => l.ConnectionId == connectionId) is { } lk &&
            (Focused(room, connectionId) || entries.Any(e => HasFocus(e.StateJson))))
        {
            _holderActivity[lk.LockId] = Now;
        }
    }

    /// <summary>Idle: no focus now, and neither an edit nor a focus for the resource type's lockRequestTimeout.</summary>
    private bool HolderIdle(ResourceRoom room, EditorLock lk, DateTimeOffset now)
    {
        if (lk.ConnectionId is { } connectionId && Focused(room, connectionId))
        {
            return false;
        }
        var last = _holderActivity.TryGetValue(lk.LockId, out var at) ? at : lk.AcquiredAt;
        return now - last >= room.Policy.RequestTimeout;
    }

    private static bool Focused(ResourceRoom room, string connectionId) =>
        room.Awareness.Values.Any(a => a.ConnectionId == connectionId && HasFocus(a.StateJson));

    /// <summary>An awareness state (a JSON object, checked by AwarenessGuard) with a non-empty <c>focus</c>.</summary>
    private static bool HasFocus(string stateJson)
    {
        if (stateJson == "null" || !stateJson.Contains("\"focus\"", StringComparison.Ordinal))
        {
            return false;
        }
        try
        {
            using var parsed = JsonDocument.Parse(stateJson);
            return parsed.RootElement.ValueKind == JsonValueKind.Object &&
                   parsed.RootElement.TryGetProperty("focus", out var focus) &&
                   focus.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False) &&
                   !(focus.ValueKind == JsonValueKind.String && focus.GetString()!.Length == 0);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void SendTo(IEnumerable<MemberInfo> members, ResourceRoom room, string eventName, IEventPayload payload, TriggeredBy? by)
    {
        var recipients = members.Select(m => new Recipient(m.NodeId, m.ConnectionId)).ToList();
        if (recipients.Count > 0)
        {
            _runtime.Events.Publish(new EntityBroadcast(recipients, new EntityEvent(eventName, room.Id.Value, payload, by, room.Revision, Now)));
        }
    }

    /// <summary>One timer for request deadlines; it only posts a tick.</summary>
    private void ScheduleRequestTimer()
    {
        if (_lockRequests.Count == 0)
        {
            _requestTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var delay = _lockRequests.Min(r => r.Deadline) - Now;
        if (delay < TimeSpan.Zero)
        {
            delay = TimeSpan.Zero;
        }
        _requestTimer ??= _runtime.Time.CreateTimer(static state => ((IEntityHost)state!).Post(LockRequestTick.Instance),
            _host, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _requestTimer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Hook: the host stops this incarnation.</summary>
    private void StopHandover()
    {
        _requestTimer?.Dispose();
        _requestTimer = null;
    }
}

/// <summary>Internal: a lock request's deadline may have passed.</summary>
internal sealed record LockRequestTick : IEntityCommand
{
    public static readonly LockRequestTick Instance = new();
}
