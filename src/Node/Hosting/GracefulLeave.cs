using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using CollabAkka.Entities.Routing;
using CollabAkka.Web.Sessions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// SIGTERM (or any host stop) → a graceful leave, before the ActorSystem's coordinated shutdown runs:
/// <code>
///   draining (/ready unready, new connections told connection:closing)
///     → the resource region hands its shards off (each entity drains its commits first, HandOffStop; messages for a
///       shard in hand-off are buffered by sharding and delivered to the new owner)
///     → every connection gets connection:closing {reason: node_shutdown, reconnectAfterMs: 0} and is closed
///     → Akka.Hosting's coordinated shutdown leaves the cluster
/// </code>
/// Clients keep their connections (and a working node behind them) until their entities have moved; then they
/// reconnect elsewhere at once, rejoin, resync and re-send what was not acknowledged.
/// </summary>
public sealed partial class GracefulLeave(
    ActorSystem system,
    NodeDrain drain,
    IRequiredActor<ResourceRegion> region,
    IEntityRouter router,
    IOptions<ShutdownOptions> options,
    ILogger<GracefulLeave> logger) : IHostedLifecycleService
{
    private Task? _leave;

    /// <summary>Runs the graceful leave once (the signal handler starts it; a stop by other means runs it while stopping).</summary>
    public Task LeaveAsync() => LazyInitializer.EnsureInitialized(ref _leave, () => Task.Run(() => RunAsync(CancellationToken.None)));

    public Task StoppingAsync(CancellationToken cancellationToken) => LeaveAsync();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        try
        {
            var shards = await region.GetAsync(cancellationToken).ConfigureAwait(false);
            if (!AnotherMemberIsUp())
            {
                // Nowhere to hand off to (the embedded default, or the last node): refuse new requests instead of letting
                // the region buffer them for a home it never gets (ShardedEntityRouter.LeavingAlone).
                (router as ShardedEntityRouter)?.LeavingAlone();
                LeaveLog.LeavingAlone(logger);
            }
            // GracefulShutdown: the region hands every shard off through the coordinator, then stops itself.
            var stopped = await shards.GracefulStop(options.Value.HandOffTimeout, GracefulShutdown.Instance).ConfigureAwait(false);
            (router as ShardedEntityRouter)?.RegionStopped();
            if (stopped)
            {
                LeaveLog.HandedOff(logger);
            }
            else
            {
                LeaveLog.HandOffTimedOut(logger, options.Value.HandOffTimeout.TotalSeconds);
            }
        }
        catch (Exception ex) when (ex is TaskCanceledException or OperationCanceledException or AskTimeoutException)
        {
            LeaveLog.HandOffTimedOut(logger, options.Value.HandOffTimeout.TotalSeconds);
        }
        await drain.CloseConnectionsAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private bool AnotherMemberIsUp()
    {
        var cluster = Cluster.Get(system);
        return cluster.State.Members.Any(m => m.Status == MemberStatus.Up && m.Address != cluster.SelfAddress);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class LeaveLog
    {
        [LoggerMessage(EventId = 3510, Level = LogLevel.Information, Message = "Graceful leave: every shard handed off; closing connections.")]
        public static partial void HandedOff(ILogger logger);

        [LoggerMessage(EventId = 3511, Level = LogLevel.Warning,
            Message = "Graceful leave: shards not handed off within {Seconds} s (Collab:Shutdown:HandOffTimeout); closing connections anyway.")]
        public static partial void HandOffTimedOut(ILogger logger, double seconds);

        [LoggerMessage(EventId = 3512, Level = LogLevel.Information,
            Message = "Graceful leave: no other member is up to take shards over; new resource requests are refused (UNAVAILABLE) while this node drains its commits.")]
        public static partial void LeavingAlone(ILogger logger);
    }
}
