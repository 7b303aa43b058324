using CollabAkka.Messages;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Hubs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Sessions;

/// <summary>Graceful leave (<c>Collab:Shutdown</c>): how long a stopping node waits for each step.</summary>
public sealed class ShutdownOptions
{
    /// <summary>How long the node waits for its shards to be handed off (their commits drained) before it closes connections anyway.</summary>
    public TimeSpan HandOffTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long connections told <c>connection:closing</c> may take to close themselves before the node aborts them.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(3);

    public void Validate()
    {
        if (HandOffTimeout <= TimeSpan.Zero || CloseTimeout <= TimeSpan.Zero || HandOffTimeout + CloseTimeout > TimeSpan.FromMinutes(5))
        {
            throw new OptionsValidationException("Collab:Shutdown", typeof(ShutdownOptions),
                ["Collab:Shutdown: HandOffTimeout and CloseTimeout must be > 0 and together at most 5 minutes."]);
        }
    }
}

/// <summary>
/// The node's side of a graceful leave. Once <see cref="Begin"/> is called the node is draining: <c>/ready</c> is unready
/// (health check <c>drain</c>), a new hub connection is told <c>connection:closing</c> at once and closed; after the shards
/// are handed off, <see cref="CloseConnectionsAsync"/> tells every connection <c>connection:closing</c>
/// (<c>{reason: "node_shutdown", reconnectAfterMs: 0}</c>) so clients reconnect elsewhere at once, waits for them to
/// close, and aborts whatever is left.
/// </summary>
public sealed partial class NodeDrain(ConnectionRegistry registry, SessionCloser closer, IOptions<ShutdownOptions> options, ILogger<NodeDrain> logger)
{
    public const string NodeShutdownReason = "node_shutdown";

    private volatile bool _draining;

    public bool IsDraining => _draining;

    public static ConnectionClosingEvent Closing { get; } = new(NodeShutdownReason, 0);

    public void Begin()
    {
        _draining = true;
        var open = registry.All.Count();
        DrainLog.Draining(logger, open);
    }

    public async Task CloseConnectionsAsync(CancellationToken cancellationToken)
    {
        var sessions = registry.All.ToList();
        // Each is told connection:closing, given CloseTimeout to close by itself (clients reconnect elsewhere at once),
        // and cut if it has not.
        var closedByClient = await Task.WhenAll(sessions.Select(s => closer.CloseAsync(s, NodeShutdownReason, 0, options.Value.CloseTimeout)))
            .ConfigureAwait(false);
        var cut = closedByClient.Count(c => !c);
        DrainLog.Closed(logger, sessions.Count, cut);
    }

    private static partial class DrainLog
    {
        [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "Draining: /ready is unready, new connections are turned away; {Connections} connections open.")]
        public static partial void Draining(ILogger logger, int connections);

        [LoggerMessage(EventId = 3501, Level = LogLevel.Information, Message = "Told {Told} connections connection:closing; {Aborted} did not close in time and were aborted.")]
        public static partial void Closed(ILogger logger, int told, int aborted);
    }
}

/// <summary>Readiness: unready while the node drains for a graceful leave.</summary>
public sealed class DrainHealthCheck(NodeDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(drain.IsDraining
            ? HealthCheckResult.Unhealthy("The node is shutting down (graceful leave); connect to another node.")
            : HealthCheckResult.Healthy("Not draining."));
}
