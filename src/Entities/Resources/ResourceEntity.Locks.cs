using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Resources;

// Editor locks. Invariants, all decided on this entity's single loop:
//  - a resource has at most policy.MaxConcurrentEditors locks, and one user at most one of them;
//  - a lock on a root conflicts with any lock on its children and the other way round; siblings are independent
//    unless one of them has independentLocks: false (resources.yml), which puts it in its parent's lock: it then
//    conflicts with every sibling too, as the parent's lock would;
//  - every grant carries a fencing token larger than any earlier token of that resource, written to the
//    store before anyone hears of the grant (so restarts never reuse one);
//  - a lock ends by release, force-release, leave, TTL expiry, or the end of the disconnect grace period.
// Timers never touch state: they post a LockTick to the entity through its host (the actor's own mailbox).
internal sealed partial class ResourceEntity
{
    private const string Available = "AVAILABLE";
    private const string Locked = "LOCKED";
    private static readonly TimeSpan MinimumTtl = TimeSpan.FromSeconds(5);

    private sealed class EditorLock
    {
        public required string LockId { get; init; }
        public required ResourceId Resource { get; init; }
        public required string UserId { get; init; }
        public required string Username { get; init; }
        public required string Role { get; init; }
        public required string SessionId { get; set; }
        public required DateTimeOffset AcquiredAt { get; init; }
        public required DateTimeOffset ExpiresAt { get; set; }
        public required long FencingToken { get; init; }
        public required TimeSpan Ttl { get; init; }

        /// <summary>The connection holding it; null while detached (grace period, or restored after a restart).</summary>
        public string? ConnectionId { get; set; }

        /// <summary>When the disconnect grace period ends; null while attached.</summary>
        public DateTimeOffset? GraceUntil { get; set; }

        public LockHolder Holder => new(UserId, Username);

        public LockView ToWire() => new(LockId, Resource.Value, Holder, AcquiredAt, ExpiresAt, FencingToken, Ttl.TotalSeconds);

        public LockRecord ToRecord() =>
            new(Resource.Value, LockId, UserId, Username, Role, SessionId, AcquiredAt, ExpiresAt, FencingToken, Ttl);
    }

    private ITimer? _lockTimer;

    // Lock times are kept at the store's precision (ms), so a restored lock is the same lock to the tick.
    private DateTimeOffset StoreNow => DateTimeOffset.FromUnixTimeMilliseconds(Now.ToUnixTimeMilliseconds());

    private bool HasLocks
    {
        get
        {
            foreach (var room in _rooms.Values)
            {
                if (room.Locks.Count > 0)
                {
                    return true;
                }
            }
            return false;
        }
    }

    private void RestoreLocks(LockSnapshot snapshot)
    {
        var now = Now;
        foreach (var (resourceId, token) in snapshot.LastTokens)
        {
            if (TryRoom(resourceId) is { } room)
            {
                room.LastToken = Math.Max(room.LastToken, token);
            }
        }
        foreach (var record in snapshot.Locks)
        {
            if (record.ExpiresAt <= now || TryRoom(record.ResourceId) is not { } room)
            {
                continue; // expired while the node was down; the holder can take it again
            }
            room.LastToken = Math.Max(room.LastToken, record.FencingToken);
            room.Locks.Add(new EditorLock
            {
                LockId = record.LockId,
                Resource = room.Id,
                UserId = record.UserId,
                Username = record.Username,
                Role = record.Role,
                SessionId = record.SessionId,
                AcquiredAt = record.AcquiredAt,
                ExpiresAt = record.ExpiresAt,
                FencingToken = record.FencingToken,
                Ttl = record.Ttl,
            });
        }
    }

    private ResourceRoom? TryRoom(string resourceId)
    {
        if (!ResourceId.TryParse(resourceId, out var id, out _) || _runtime.Catalog.Resolve(id) is not { } policy)
        {
            return null;
        }
        return GetOrCreateRoom(id, policy);
    }

    private async Task<EntityReply> OnAcquireAsync(AcquireLock acquire, string correlationId)
    {
        if (!_rooms.TryGetValue(acquire.Resource.Value, out var room) || !room.Members.TryGetValue(acquire.Member.ConnectionId, out var member))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"Join {acquire.Resource.Value} before taking its lock.");
        }
        var permissions = room.Policy.For(member.Info.Role);
        if (!permissions.CanLock || !permissions.CanEdit)
        {
            return EntityReply.Refuse(ErrorCodes.PermissionDenied, $"Role '{member.Info.Role}' may not lock {room.Policy.TypeKey} resources.");
        }
        var ttl = room.Policy.LockTtl;
        if (acquire.TtlSeconds is { } requested)
        {
            if (!double.IsFinite(requested) || requested < MinimumTtl.TotalSeconds)
            {
                return EntityReply.Refuse(ErrorCodes.ValidationFailed, $"ttlSeconds must be at least {MinimumTtl.TotalSeconds}.");
            }
            ttl = TimeSpan.FromSeconds(Math.Min(requested, ttl.TotalSeconds));
        }
        var (granted, denied) = await TryGrantAsync(room, member, ttl, correlationId).ConfigureAwait(false);
        if (granted is not null)
        {
            return EntityReply.Ok(granted.ToWire());
        }
        if (denied is null)
        {
            return Moved(); // the grant's write was fenced
        }
        return EntityReply.Refuse(denied.Code, denied.Message, Details(room, denied));
    }

    private async Task<EntityReply> OnReleaseAsync(ReleaseLock release, string correlationId)
    {
        var lk = FindUserLock(release.Resource.Value, release.Member.UserId);
        if (lk is null)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, $"You do not hold the lock of {release.Resource.Value}.");
        }
        await EndLockAsync(_rooms[release.Resource.Value], lk, EventNames.LockReleased, "released", release.Member, null, correlationId)
            .ConfigureAwait(false);
        return EntityReply.Ok(new LockReleasedResult(lk.LockId, release.Resource.Value, Released: true));
    }

    private async Task<EntityReply> OnRenewAsync(RenewLock renew, string correlationId)
    {
        var lk = FindUserLock(renew.Resource.Value, renew.Member.UserId);
        if (lk is null || lk.ConnectionId != renew.Member.ConnectionId)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, $"This connection does not hold the lock of {renew.Resource.Value}.");
        }
        var expiresAt = StoreNow + lk.Ttl;
        if (!Written(await _runtime.Locks.SaveAsync(lk.ToRecord() with { ExpiresAt = expiresAt }, Epoch, CancellationToken.None).ConfigureAwait(false)))
        {
            return Moved();
        }
        lk.ExpiresAt = expiresAt;
        var room = _rooms[renew.Resource.Value];
        Broadcast(room, EventNames.LockRenewed, lk.ToWire(), By(renew.Member, MethodNames.LockHeartbeat), except: null);
        Audit("LOCK_RENEWED", renew.Member, room.Id, correlationId, new Dictionary<string, object?>
        {
            ["lockId"] = lk.LockId, ["fencingToken"] = lk.FencingToken, ["expiresAt"] = expiresAt,
        });
        ScheduleLockTimer();
        return EntityReply.Ok(lk.ToWire());
    }

    private async Task<EntityReply> OnForceReleaseAsync(ForceReleaseLock force, string correlationId)
    {
        var policy = _runtime.Catalog.Resolve(force.Resource);
        if (policy is null || !policy.For(force.Member.Role).CanForceRelease)
        {
            Audit("LOCK_FORCE_RELEASE_DENIED", force.Member, force.Resource, correlationId,
                new Dictionary<string, object?> { ["reason"] = force.Reason });
            return EntityReply.Refuse(ErrorCodes.PermissionDenied, $"Role '{force.Member.Role}' may not force-release locks.");
        }
        if (!_rooms.TryGetValue(force.Resource.Value, out var room) || room.Locks.Count == 0)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, $"{force.Resource.Value} is not locked.");
        }
        var targets = room.Locks.Where(l => force.LockId is null || l.LockId == force.LockId).ToList();
        if (targets.Count == 0)
        {
            return EntityReply.Refuse(ErrorCodes.LockNotHeld, $"No lock {force.LockId} on {force.Resource.Value}.");
        }
        foreach (var lk in targets)
        {
            await EndLockAsync(room, lk, EventNames.LockReleased, "force_released", force.Member, force.Reason, correlationId)
                .ConfigureAwait(false);
        }
        return EntityReply.Ok(new ForceReleaseResult(force.Resource.Value, targets.Select(l => l.ToWire()).ToList()));
    }

    /// <summary>Expires locks whose TTL ran out and releases those whose grace period ended.</summary>
    private async Task<EntityReply> OnLockTickAsync()
    {
        var now = Now;
        foreach (var room in _rooms.Values.ToList())
        {
            foreach (var lk in room.Locks.ToList())
            {
                if (lk.GraceUntil is { } grace && grace <= now)
                {
                    await EndLockAsync(room, lk, EventNames.LockReleased, "user_disconnected", null, null, "grace-period", bestEffort: true)
                        .ConfigureAwait(false);
                }
                else if (lk.ExpiresAt <= now)
                {
                    await EndLockAsync(room, lk, EventNames.LockExpired, "expired", null, null, "lock-ttl", bestEffort: true)
                        .ConfigureAwait(false);
                }
            }
        }
        ScheduleLockTimer();
        return EntityReply.Ok();
    }

    /// <summary>
    /// Grants a lock if a slot is free and nothing in the family conflicts: written to the store first,
    /// then applied and announced. Returns the grant or why not; neither when the write was fenced.
    /// </summary>
    private async Task<(EditorLock? Granted, LockDenied? Denied)> TryGrantAsync(ResourceRoom room, Member member, TimeSpan ttl, string correlationId)
    {
        var info = member.Info;
        var own = room.Locks.FirstOrDefault(l => l.UserId == info.UserId);
        if (own is not null)
        {
            if (own.ConnectionId == info.ConnectionId)
            {
                return (own, null); // already ours: acquiring again is a no-op
            }
            if (own.ConnectionId is null)
            {
                Reattach(room, own, member, correlationId);
                return (own, null);
            }
            return (null, new LockDenied(ErrorCodes.LockHeld,
                "You already hold this lock in another tab or window; this one joins as viewer.", own.Holder, own.ExpiresAt));
        }
        var conflict = FamilyConflict(room);
        if (conflict is not null)
        {
            return (null, new LockDenied(ErrorCodes.LockHeld,
                $"Locked by {conflict.Username} on {conflict.Resource.Value} until {conflict.ExpiresAt:HH:mm} UTC.", conflict.Holder, conflict.ExpiresAt));
        }
        if (room.Locks.Count >= room.Policy.MaxConcurrentEditors)
        {
            var first = room.Locks.MinBy(l => l.ExpiresAt)!;
            return room.Policy.MaxConcurrentEditors == 1
                ? (null, new LockDenied(ErrorCodes.LockHeld, $"Locked by {first.Username} until {first.ExpiresAt:HH:mm} UTC.", first.Holder, first.ExpiresAt))
                : (null, new LockDenied(ErrorCodes.MaxEditorsReached,
                    $"{room.Id.Value} already has its maximum of {room.Policy.MaxConcurrentEditors} editors.", first.Holder, first.ExpiresAt));
        }

        var now = StoreNow;
        var lk = new EditorLock
        {
            LockId = Guid.CreateVersion7().ToString("N"),
            Resource = room.Id,
            UserId = info.UserId,
            Username = info.Username,
            Role = info.Role,
            SessionId = info.SessionId,
            AcquiredAt = now,
            ExpiresAt = now + ttl,
            FencingToken = room.LastToken + 1,
            Ttl = ttl,
            ConnectionId = info.ConnectionId,
        };
        if (!Written(await _runtime.Locks.SaveAsync(lk.ToRecord(), Epoch, CancellationToken.None).ConfigureAwait(false)))
        {
            return (null, null);
        }
        var before = StateOf(room);
        room.LastToken = lk.FencingToken;
        room.Locks.Add(lk);
        member.Mode = JoinMode.Editor;
        Broadcast(room, EventNames.LockAcquired, lk.ToWire(), By(info, MethodNames.LockAcquire), except: null);
        AnnounceState(room, before, By(info, MethodNames.LockAcquire));
        if (room.Members.ContainsKey(info.ConnectionId))
        {
            BroadcastAllUsers(By(info, MethodNames.LockAcquire)); // a viewer became editor: presence shows it
        }
        Audit("LOCK_ACQUIRED", info, room.Id, correlationId, new Dictionary<string, object?>
        {
            ["lockId"] = lk.LockId, ["fencingToken"] = lk.FencingToken, ["ttlSeconds"] = ttl.TotalSeconds, ["expiresAt"] = lk.ExpiresAt,
        });
        ScheduleLockTimer();
        return (lk, null);
    }

    private void Reattach(ResourceRoom room, EditorLock lk, Member member, string correlationId)
    {
        lk.ConnectionId = member.Info.ConnectionId;
        lk.SessionId = member.Info.SessionId;
        lk.GraceUntil = null;
        member.Mode = JoinMode.Editor;
        if (room.Members.ContainsKey(member.Info.ConnectionId))
        {
            BroadcastAllUsers(By(member.Info, MethodNames.LockAcquire));
        }
        Audit("LOCK_REATTACHED", member.Info, room.Id, correlationId, new Dictionary<string, object?>
        {
            ["lockId"] = lk.LockId, ["fencingToken"] = lk.FencingToken,
        });
        ScheduleLockTimer();
    }

    /// <summary>A lock on the parent or a child of this room (siblings do not conflict).</summary>
    private EditorLock? FamilyConflict(ResourceRoom room)
    {
        foreach (var other in _rooms.Values)
        {
            if (other != room && other.Locks.Count > 0 && (other.Id.IsParentOrChildOf(room.Id) || SharesParentLock(room, other)))
            {
                return other.Locks[0];
            }
        }
        return null;
    }

    /// <summary>Siblings whose locks are one lock: either of them shares its parent's (independentLocks: false).</summary>
    private static bool SharesParentLock(ResourceRoom a, ResourceRoom b) =>
        !a.Id.IsRoot && !b.Id.IsRoot && !(a.Policy.IndependentLocks && b.Policy.IndependentLocks);

    private async Task EndLockAsync(ResourceRoom room, EditorLock lk, string eventName, string reason, MemberInfo? by, string? comment,
        string correlationId, bool bestEffort = false)
    {
        // The lock ends now, when the entity decides it: a node stalled during the delete (SIGSTOP, a long pause) would
        // otherwise audit the end later than it took effect, possibly after a new owner granted the lock again.
        var endedAt = Now;
        try
        {
            if (!Written(await _runtime.Locks.DeleteAsync(room.Id.Value, lk.LockId, Epoch, CancellationToken.None).ConfigureAwait(false)))
            {
                return; // a newer incarnation owns the lock now; this one stops without announcing anything
            }
        }
        catch (StoreUnavailableException ex) when (bestEffort)
        {
            // An expired lock is dropped on load anyway; a released one would come back only until its TTL.
            EntityLog.LockWriteFailed(_logger, ex, room.Id.Value);
        }
        var before = StateOf(room);
        room.Locks.Remove(lk);
        EndRequestsForLock(lk, correlationId);
        var modeChanged = false;
        if (lk.ConnectionId is { } connectionId && room.Members.TryGetValue(connectionId, out var holder))
        {
            holder.Mode = JoinMode.Viewer;
            modeChanged = reason != "left"; // leaving broadcasts presence itself
        }
        var byHolder = by is null ? null : new LockHolder(by.UserId, by.Username);
        var payload = new LockEndedPayload(lk.LockId, lk.Holder, lk.FencingToken, reason, byHolder, comment);
        var action = reason switch
        {
            "released" => MethodNames.LockRelease,
            "force_released" => MethodNames.LockForceRelease,
            "left" => MethodNames.Leave,
            _ => reason, // expired, user_disconnected: the system acted, not a method
        };
        var trigger = by is null ? new TriggeredBy(lk.UserId, lk.Username, action) : By(by, action);
        Broadcast(room, eventName, payload, trigger, except: null);
        AnnounceState(room, before, trigger);
        if (modeChanged)
        {
            BroadcastAllUsers(trigger); // the former holder is a viewer now
        }
        _runtime.Audit.Record(new AuditEvent
        {
            EventType = reason switch
            {
                "force_released" => "LOCK_FORCE_RELEASED",
                "expired" => "LOCK_EXPIRED",
                _ => "LOCK_RELEASED",
            },
            Timestamp = endedAt,
            UserId = by?.UserId ?? lk.UserId,
            Username = by?.Username ?? lk.Username,
            Role = by?.Role ?? lk.Role,
            ResourceId = room.Id.Value,
            SessionId = by?.SessionId ?? lk.SessionId,
            NodeId = _runtime.NodeId,
            Ip = by?.Ip,
            UserAgent = by?.UserAgent,
            CorrelationId = correlationId,
            Details = new Dictionary<string, object?>
            {
                ["lockId"] = lk.LockId,
                ["holder"] = lk.UserId,
                ["fencingToken"] = lk.FencingToken,
                ["reason"] = reason,
                ["comment"] = comment,
            },
        });
    }

    /// <summary>On disconnect: the holder keeps its locks for the grace period.</summary>
    private void DetachLocks(string connectionId)
    {
        var now = Now;
        foreach (var room in _rooms.Values)
        {
            foreach (var lk in room.Locks)
            {
                if (lk.ConnectionId == connectionId)
                {
                    lk.ConnectionId = null;
                    lk.GraceUntil = now + room.Policy.GracePeriod;
                }
            }
        }
        ScheduleLockTimer();
    }

    private EditorLock? FindUserLock(string resourceId, string userId) =>
        _rooms.TryGetValue(resourceId, out var room) ? room.Locks.FirstOrDefault(l => l.UserId == userId) : null;

    private static string StateOf(ResourceRoom room) => room.Locks.Count > 0 ? Locked : Available;

    private void AnnounceState(ResourceRoom room, string before, TriggeredBy by)
    {
        var after = StateOf(room);
        if (after != before)
        {
            Broadcast(room, EventNames.StateChanged, new StateChangedPayload(before, after, room.Locks.Count), by, except: null);
        }
    }

    private static LockHeldDetails Details(ResourceRoom room, LockDenied denied) =>
        new(denied.Holder!, denied.ExpiresAt!.Value, room.Policy.MaxConcurrentEditors, room.Locks.Select(l => l.Holder).ToList());

    private static TriggeredBy By(MemberInfo member, string action) => new(member.UserId, member.Username, action);

    /// <summary>One timer for the entity: due at the earliest TTL or grace deadline. It only posts a tick.</summary>
    private void ScheduleLockTimer()
    {
        DateTimeOffset? next = null;
        foreach (var room in _rooms.Values)
        {
            foreach (var lk in room.Locks)
            {
                var due = lk.GraceUntil is { } grace && grace < lk.ExpiresAt ? grace : lk.ExpiresAt;
                if (next is null || due < next)
                {
                    next = due;
                }
            }
        }
        if (next is null)
        {
            _lockTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var delay = next.Value - Now;
        if (delay < TimeSpan.Zero)
        {
            delay = TimeSpan.Zero;
        }
        _lockTimer ??= _runtime.Time.CreateTimer(static state => ((IEntityHost)state!).Post(LockTick.Instance),
            _host, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _lockTimer.Change(delay, Timeout.InfiniteTimeSpan);
    }
}
