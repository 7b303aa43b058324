using CollabAkka.Entities.Configuration;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Resources;

// Permissions after a reload of resources.yml: every room takes the new policy, and whoever it no longer allows goes.
// A member whose role may no longer view is removed (its own user:left, reason permission_revoked; its lock is
// released first); a lock holder who may still view but no longer edit or lock loses the lock and stays as a viewer.
// Limits (lockTTL, maxViewers, maxConcurrentEditors, …) apply from the next decision on: a lock keeps its expiry
// until its next renewal, and members over a lowered maxViewers stay.
internal sealed partial class ResourceEntity
{
    private const string PermissionRevoked = PresenceReasons.PermissionRevoked;

    private async Task<EntityReply> OnRecheckPermissionsAsync(string correlationId)
    {
        var catalog = _runtime.Catalog;
        Member? last = null;
        foreach (var room in _rooms.Values.ToList())
        {
            // A type the new file no longer configures (and unknown types are refused): nobody may stay.
            room.Policy = catalog.Resolve(room.Id) ?? room.Policy with { Roles = new Dictionary<string, RolePermissions>() };
            foreach (var lk in room.Locks.ToList())
            {
                var rights = room.Policy.For(lk.Role);
                if (!rights.CanView || !rights.CanEdit || !rights.CanLock)
                {
                    // Best effort against the store: the rights are gone now even if the delete fails (a lock left in the
                    // store comes back only if the entity restarts, and only until its TTL).
                    await EndLockAsync(room, lk, EventNames.LockReleased, PermissionRevoked, null, null, correlationId, bestEffort: true).ConfigureAwait(false);
                    if (Fenced)
                    {
                        return EntityReply.Ok();
                    }
                }
            }
            foreach (var member in room.Members.Values.ToList())
            {
                if (!room.Policy.For(member.Info.Role).CanView)
                {
                    RemoveMember(room, member, PermissionRevoked, PermissionRevoked, correlationId, tellMember: true);
                    last = member;
                }
            }
        }
        if (last is not null)
        {
            BroadcastAllUsers(new TriggeredBy(last.Info.UserId, last.Info.Username, PermissionRevoked));
        }
        return EntityReply.Ok();
    }
}

/// <summary>Internal: this node's resources.yml was reloaded; re-check members and lock holders.</summary>
internal sealed record RecheckPermissions : IEntityCommand
{
    public static readonly RecheckPermissions Instance = new();
}
