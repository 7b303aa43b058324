using CollabAkka.Entities.Resources;

namespace CollabAkka.Web.Security;

/// <summary>The security limits as <c>/api/capabilities</c> lists them (<c>security</c>).</summary>
public sealed record SecurityCapabilities(
    int MaxConcurrentConnections,
    int MaxConcurrentUpgradedConnections,
    int MaxConnectionsPerIp,
    double ConnectionAttemptsPerIpPerSecond,
    int ConnectionAttemptBurst,
    double RequestHeadersTimeoutSeconds,
    double KeepAliveTimeoutSeconds,
    long MaxRequestBodyBytes,
    int MaxRequestHeadersBytes,
    double UnauthenticatedRequestsPerIpPerSecond,
    int UnauthenticatedRequestBurst,
    int UnauthenticatedAuditPerWindow,
    int RefusedWritesAuditedPerWindow,
    double AuditWindowSeconds,
    int MaxLoggedQueryLength,
    double? MaxTokenLifetimeSeconds,
    bool CloseOnTokenExpiry,
    int MaxNestingDepth,
    int JsonMaxDepth,
    int MaxAwarenessStateBytes,
    int MaxAwarenessClientsPerConnection,
    int MaxAwarenessClientsPerRoom,
    int MaxAwarenessSnapshotBytes)
{
    public static SecurityCapabilities From(SecurityOptions s, DocumentOptions d, int effectiveMaxConnections) => new(
        effectiveMaxConnections, Math.Min(s.MaxConcurrentUpgradedConnections, effectiveMaxConnections), s.MaxConnectionsPerIp,
        s.ConnectionAttemptsPerIpPerSecond, s.ConnectionAttemptBurst, s.RequestHeadersTimeout.TotalSeconds, s.KeepAliveTimeout.TotalSeconds,
        s.MaxRequestBodyBytes, s.MaxRequestHeadersBytes, s.UnauthenticatedRequestsPerIpPerSecond, s.UnauthenticatedRequestBurst,
        s.UnauthenticatedAuditPerWindow, s.RefusedWritesAuditedPerWindow, s.AuditWindow.TotalSeconds, s.MaxLoggedQueryLength,
        s.MaxTokenLifetime?.TotalSeconds, true, d.MaxNestingDepth, Yjs.YLimits.JsonDepth(d.MaxNestingDepth), d.MaxAwarenessStateBytes,
        d.MaxAwarenessClientsPerConnection, d.MaxAwarenessClientsPerRoom, d.MaxAwarenessSnapshotBytes);
}
