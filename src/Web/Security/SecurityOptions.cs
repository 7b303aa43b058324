namespace CollabAkka.Web.Security;

/// <summary>
/// Limits against outsiders (<c>Collab:Security</c>): connections and connection attempts per IP, Kestrel's
/// global limits and timeouts, unauthenticated HTTP requests, and how much refused traffic reaches the
/// audit trail. Every value is listed in <c>/api/capabilities</c> under <c>limits.security</c>; see docs/SECURITY.md.
/// </summary>
public sealed class SecurityOptions
{
    /// <summary>Open TCP connections the node accepts in all (Kestrel <c>MaxConcurrentConnections</c>); kept below the descriptor limit.</summary>
    public int MaxConcurrentConnections { get; set; } = 8192;

    /// <summary>Open WebSocket (upgraded) connections (Kestrel <c>MaxConcurrentUpgradedConnections</c>).</summary>
    public int MaxConcurrentUpgradedConnections { get; set; } = 8192;

    /// <summary>File descriptors kept free for the store, logs and outgoing connections when capping connections.</summary>
    public int ReservedFileDescriptors { get; set; } = 512;

    /// <summary>Open TCP connections from one IP address.</summary>
    public int MaxConnectionsPerIp { get; set; } = 256;

    /// <summary>New TCP connections one IP address may open per second (sustained).</summary>
    public double ConnectionAttemptsPerIpPerSecond { get; set; } = 50;

    /// <summary>New TCP connections one IP address may open at once (burst).</summary>
    public int ConnectionAttemptBurst { get; set; } = 200;

    /// <summary>Time a client has to send the request headers (Kestrel <c>RequestHeadersTimeout</c>).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Idle time before a kept-alive HTTP connection is closed (Kestrel <c>KeepAliveTimeout</c>).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest request body accepted by HTTP endpoints (Kestrel <c>MaxRequestBodySize</c>).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest request line plus headers (Kestrel <c>MaxRequestHeadersTotalSize</c>).</summary>
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>Unauthenticated <c>/api/**</c>, <c>/cluster/**</c> and <c>/dev/token</c> requests one IP may make per second.</summary>
    public double UnauthenticatedRequestsPerIpPerSecond { get; set; } = 20;

    /// <summary>Burst of unauthenticated requests per IP.</summary>
    public int UnauthenticatedRequestBurst { get; set; } = 100;

    /// <summary>Unauthenticated requests (and refused connections) recorded in the audit trail per window, node-wide; the rest are counted.</summary>
    public int UnauthenticatedAuditPerWindow { get; set; } = 60;

    /// <summary>Refused hub writes recorded per connection, method and code per window; the rest are counted.</summary>
    public int RefusedWritesAuditedPerWindow { get; set; } = 1;

    /// <summary>The window of the two audit throttles above.</summary>
    public TimeSpan AuditWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Characters of a query string kept in logs and audit records.</summary>
    public int MaxLoggedQueryLength { get; set; } = 256;

    /// <summary>Characters of a path kept in logs and audit records.</summary>
    public int MaxLoggedPathLength { get; set; } = 512;

    /// <summary>Longest token lifetime accepted (exp − iat, or exp − now without iat); null: no limit.</summary>
    public TimeSpan? MaxTokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Let <c>POST /dev/token</c> and <c>/demo</c> run while the node listens on a non-loopback address.</summary>
    public bool AllowDevTokensOnNetwork { get; set; }

    public void Validate()
    {
        if (MaxConcurrentConnections < 1 || MaxConcurrentUpgradedConnections < 1 || MaxConnectionsPerIp < 1 || ConnectionAttemptsPerIpPerSecond <= 0 ||
            ConnectionAttemptBurst < 1 || UnauthenticatedRequestsPerIpPerSecond <= 0 || UnauthenticatedRequestBurst < 1 || UnauthenticatedAuditPerWindow < 1 ||
            RefusedWritesAuditedPerWindow < 1 || AuditWindow <= TimeSpan.Zero || RequestHeadersTimeout <= TimeSpan.Zero || KeepAliveTimeout <= TimeSpan.Zero ||
            MaxLoggedQueryLength < 0 || MaxLoggedPathLength < 16 || MaxRequestBodyBytes < 1024 || MaxRequestHeadersBytes < 4096 ||
            MaxTokenLifetime is { } l && l <= TimeSpan.Zero)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Collab:Security", typeof(SecurityOptions),
                ["Collab:Security: every limit must be positive (connections, rates, bursts, windows, timeouts; MaxLoggedPathLength >= 16, MaxRequestBodyBytes >= 1024, MaxRequestHeadersBytes >= 4096)."]);
        }
    }
}
