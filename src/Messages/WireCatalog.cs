using CollabAkka.Messages.Wire;

namespace CollabAkka.Messages;

/// <summary>
/// Which record travels with each hub method and event: the single source the AsyncAPI document
/// (<c>/asyncapi.json</c>, <c>docs/asyncapi.yaml</c>) and the TypeScript wire types (<c>docs/wire-types.d.ts</c>) are
/// generated from, by reflection over these records. A test fails when a hub method, event or error code is missing.
/// </summary>
public static class WireCatalog
{
    /// <summary>A client-to-server invocation: its request record and the record in <c>ApiResponse.data</c> (null: none or varies).</summary>
    public sealed record HubMethod(string Name, Type Request, Type? Result, string Summary);

    /// <summary>A server-to-client event; <paramref name="Broadcast"/>: wrapped in <see cref="ApiBroadcast"/> with this payload.</summary>
    public sealed record HubEvent(string Name, Type Payload, bool Broadcast, string Summary);

    public static readonly IReadOnlyList<HubMethod> Methods =
    [
        new(MethodNames.Join, typeof(JoinRequest), typeof(JoinResult), "Join a resource as editor (takes the lock when allowed) or viewer."),
        new(MethodNames.Leave, typeof(LeaveRequest), typeof(LeaveResult), "Leave a resource; a held lock is released."),
        new(MethodNames.Heartbeat, typeof(HeartbeatRequest), typeof(HeartbeatAck), "Keep the session alive."),
        new(MethodNames.LockAcquire, typeof(AcquireLockRequest), typeof(LockView), "Take the editor lock of a joined resource."),
        new(MethodNames.LockRelease, typeof(LockRequest), null, "Release the editor lock."),
        new(MethodNames.LockHeartbeat, typeof(LockRequest), typeof(LockView), "Renew the editor lock's TTL."),
        new(MethodNames.LockForceRelease, typeof(ForceReleaseRequest), null, "Release someone else's lock (roles with canForceRelease; a reason is required)."),
        new(MethodNames.DocSync, typeof(DocSyncRequest), typeof(DocSyncResult), "Send a Y.js state vector; get the update the client lacks and the server's vector."),
        new(MethodNames.DocUpdate, typeof(DocUpdateRequest), null, "Apply a Y.js v1 update (editors); answered with newRevision once durable."),
        new(MethodNames.AwarenessUpdate, typeof(AwarenessRequest), null, "Relay a y-protocols awareness update to the resource's members."),
        new(MethodNames.ResourceUpdate, typeof(ResourceUpdateRequest), null, "Save one field's whole value with an optimistic revision check."),
        new(MethodNames.LockRequest, typeof(LockHandoverRequest), typeof(LockRequestView),
            "Ask the holder of the resource's lock to hand it over (optional short reason); passes by itself after lockRequestTimeout if the holder is idle."),
        new(MethodNames.LockRequestAnswer, typeof(LockRequestAnswerRequest), null,
            "The holder's answer to a pending lock request: \"hand-over\" (data: LockHandedOver) or \"decline\" (data: LockRequestDeclined)."),
    ];

    public static readonly IReadOnlyList<HubEvent> Events =
    [
        new(EventNames.Connected, typeof(ConnectedEvent), false, "Sent once to a new connection."),
        new(EventNames.Error, typeof(ApiError), false, "A refusal not tied to an invocation (e.g. too many connections)."),
        new(EventNames.ConnectionClosing, typeof(ConnectionClosingEvent), false,
            "The server closes this connection next. reason node_shutdown (graceful leave, rolling restart): reconnect after reconnectAfterMs (0 = at once, no backoff), rejoin, resync, re-send unacknowledged edits; sessions_revoked (an administrator ended this user's sessions): reconnect only with a token issued after the revocation."),
        new(EventNames.UserJoined, typeof(UserPresencePayload), true, "A user joined the resource."),
        new(EventNames.UserLeft, typeof(UserPresencePayload), true, "A user left the resource."),
        new(EventNames.AllUsers, typeof(AllUsersPayload), true, "Everyone in every resource of the family (sent to the whole family)."),
        new(EventNames.LockAcquired, typeof(LockView), true, "A lock was granted."),
        new(EventNames.LockReleased, typeof(LockEndedPayload), true, "A lock was released, force-released or ended with its holder's grace period."),
        new(EventNames.LockExpired, typeof(LockEndedPayload), true, "A lock's TTL ran out."),
        new(EventNames.LockRenewed, typeof(LockView), true, "A lock's TTL was renewed."),
        new(EventNames.DocUpdate, typeof(DocUpdatePayload), true, "A Y.js update from another member."),
        new(EventNames.AwarenessUpdate, typeof(DocUpdatePayload), true, "An awareness update (cursors, focus) from another member, or the snapshot on join."),
        new(EventNames.ResourceUpdated, typeof(ResourceUpdatedPayload), true, "An external system (webhook) changed the resource."),
        new(EventNames.StateChanged, typeof(StateChangedPayload), true, "The resource's lock state changed (AVAILABLE, LOCKED)."),
        new(EventNames.LockRequested, typeof(LockRequestView), true, "Someone asks for the lock (sent to the holder's connection only)."),
        new(EventNames.LockHandedOver, typeof(LockHandedOver), true,
            "The lock passed to a requester with a new fencing token (answered or automatic); replaces lock:released + lock:acquired."),
        new(EventNames.LockRequestDeclined, typeof(LockRequestDeclined), true,
            "A lock request ended without a hand-over (declined, expired, requester left, lock ended); sent to the requester and the holder."),
    ];
}
