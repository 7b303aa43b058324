namespace CollabAkka.Messages;

/// <summary>Stable, machine-readable error codes used on the hub and in HTTP problem details.</summary>
public static class ErrorCodes
{
    public const string Unauthorized = "UNAUTHORIZED";
    public const string PermissionDenied = "PERMISSION_DENIED";
    public const string ValidationFailed = "VALIDATION_FAILED";
    public const string NotJoined = "NOT_JOINED";
    public const string AlreadyJoined = "ALREADY_JOINED";
    public const string LockHeld = "LOCK_HELD";
    public const string LockNotHeld = "LOCK_NOT_HELD";
    public const string MaxEditorsReached = "MAX_EDITORS_REACHED";
    public const string MaxViewersReached = "MAX_VIEWERS_REACHED";
    public const string MaxConnectionsReached = "MAX_CONNECTIONS_REACHED";
    public const string StaleRevision = "STALE_REVISION";
    public const string InvalidUpdate = "INVALID_UPDATE";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string RateLimited = "RATE_LIMITED";
    public const string InvalidStateTransition = "INVALID_STATE_TRANSITION";
    public const string Unavailable = "UNAVAILABLE";
    public const string NotFound = "NOT_FOUND";
    public const string Internal = "INTERNAL_ERROR";

    /// <summary>Every code, for capabilities and docs.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        Unauthorized, PermissionDenied, ValidationFailed, NotJoined, AlreadyJoined, LockHeld, LockNotHeld,
        MaxEditorsReached, MaxViewersReached, MaxConnectionsReached, StaleRevision, InvalidUpdate,
        PayloadTooLarge, RateLimited, InvalidStateTransition, Unavailable, NotFound, Internal,
    ];
}
