namespace CollabAkka.Web.Sessions;

/// <summary>Connection management (<c>Collab:Connections</c>).</summary>
public sealed class ConnectionOptions
{
    public const int DefaultMaxConnectionsPerUser = 5;

    /// <summary>A session without any activity (invocation or heartbeat) for this long is swept.</summary>
    public TimeSpan SessionTtl { get; set; } = TimeSpan.FromSeconds(3600);

    /// <summary>How often stale sessions are looked for.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Quiet for longer than this counts as "stale" in statistics (not yet swept).</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The interval clients are told to send <c>heartbeat</c> at.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Open connections one user may have at once; the next is refused with MAX_CONNECTIONS_REACHED.</summary>
    public int MaxConnectionsPerUser { get; set; } = DefaultMaxConnectionsPerUser;

    /// <summary>Hub invocations one connection may make per second on average.</summary>
    public double InvocationsPerSecond { get; set; } = 50;

    /// <summary>Burst of invocations above the average rate.</summary>
    public int InvocationBurst { get; set; } = 100;

    /// <summary>Longest accepted requestId.</summary>
    public int MaxRequestIdLength { get; set; } = 128;

    /// <summary>Largest hub message in bytes (SignalR closes the connection above it).</summary>
    public long MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// When the server closes a connection on purpose, how long after <c>connection:closing</c> it waits for the client
    /// to close by itself (and for the event to leave the socket) before it cuts the connection.
    /// </summary>
    public TimeSpan ClosingGrace { get; set; } = TimeSpan.FromSeconds(1);
}
