namespace CollabAkka.Messages;

/// <summary>Names of server-to-client events and client-to-server hub methods.</summary>
public static class EventNames
{
    public const string Connected = "connected";
    public const string Error = "error";
    public const string UserJoined = "user:joined";
    public const string UserLeft = "user:left";
    public const string AllUsers = "resource:all_users";
    public const string LockAcquired = "lock:acquired";
    public const string LockReleased = "lock:released";
    public const string LockExpired = "lock:expired";
    public const string LockRenewed = "lock:renewed";
    public const string DocUpdate = "doc:update";
    public const string AwarenessUpdate = "awareness:update";
    public const string ResourceUpdated = "resource:updated";
    public const string StateChanged = "state:changed";
    public const string LockRequested = "lock:requested";
    public const string LockHandedOver = "lock:handed-over";
    public const string LockRequestDeclined = "lock:request-declined";
    public const string ConnectionClosing = "connection:closing";

    public static readonly IReadOnlyList<string> All =
    [
        Connected, Error, UserJoined, UserLeft, AllUsers, LockAcquired, LockReleased, LockExpired, LockRenewed,
        DocUpdate, AwarenessUpdate, ResourceUpdated, StateChanged, LockRequested, LockHandedOver, LockRequestDeclined,
        ConnectionClosing,
    ];
}

/// <summary>Hub method names (<c>entity:action</c>).</summary>
public static class MethodNames
{
    public const string Join = "resource:join";
    public const string Leave = "resource:leave";
    public const string Heartbeat = "heartbeat";
    public const string LockAcquire = "lock:acquire";
    public const string LockRelease = "lock:release";
    public const string LockHeartbeat = "lock:heartbeat";
    public const string LockForceRelease = "lock:force-release";
    public const string DocSync = "doc:sync";
    public const string DocUpdate = "doc:update";
    public const string AwarenessUpdate = "awareness:update";
    public const string ResourceUpdate = "resource:update";
    public const string LockRequest = "lock:request";
    public const string LockRequestAnswer = "lock:request-answer";

    public static readonly IReadOnlyList<string> All =
        [Join, Leave, Heartbeat, LockAcquire, LockRelease, LockHeartbeat, LockForceRelease, DocSync, DocUpdate, AwarenessUpdate, ResourceUpdate,
         LockRequest, LockRequestAnswer];
}
