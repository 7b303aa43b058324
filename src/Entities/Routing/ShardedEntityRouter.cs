using System.Diagnostics;
using Akka.Actor;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Reaches entities with an <c>Ask</c> (<see cref="EntityOptions.AskTimeout"/>): straight to the entity when it is active
/// on this node (<see cref="EntityCensus"/>; <see cref="EntityDeadLetterRedirect"/> re-sends through the region what
/// reaches it after it stopped), otherwise through the resource shard region, which finds or starts it anywhere in the
/// cluster. A timeout is an UNAVAILABLE refusal naming the setting, never an exception at the hub.
/// <para>
/// Failover: a message the region forwarded to an owner that then died (<c>kill -9</c>) is lost with it, and its caller
/// would wait out the whole <see cref="EntityOptions.AskTimeout"/>. Commands marked <see cref="IRetrySafeCommand"/>
/// (applying them twice changes nothing and answers the same way) are therefore asked in attempts of
/// <see cref="EntityOptions.AttemptTimeout"/> until the ask timeout is spent: once the cluster has downed the dead
/// member and the coordinator has given its shards a new home, the next attempt is buffered by the region and reaches
/// the new incarnation. Everything else is asked once (a second release or form save could change something). The
/// normal path is one <c>Ask</c> and no allocation beyond it; only a timed-out attempt costs anything more.
/// </para>
/// </summary>
public sealed class ShardedEntityRouter(Func<CancellationToken, Task<IActorRef>> region, EntityOptions options, EntityCensus census) : IEntityRouter
{
    private IActorRef? _region;
    private long _retries;
    private volatile bool _regionStopped;
    private volatile bool _leavingAlone;

    /// <summary>The graceful leave stopped this node's region: from now on callers are refused at once instead of asking nobody.</summary>
    public void RegionStopped() => _regionStopped = true;

    /// <summary>
    /// The graceful leave began on a node that no other member can take shards over from: from now on callers are refused
    /// at once. Sent on, a request for a shard already handed off would wait in the region for a home that a lone node's
    /// coordinator never gives, and that buffer holds the hand-off open until <c>Collab:Shutdown:HandOffTimeout</c>.
    /// </summary>
    public void LeavingAlone() => _leavingAlone = true;

    public IReadOnlyCollection<string> ActiveRoots => census.Roots;

    /// <summary>Attempts sent again after going unanswered, since start (not yet exported at /metrics).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    public async Task<EntityReply> SendAsync(EntityEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var regionRef = _region ??= await region(cancellationToken).ConfigureAwait(false);
        if (_regionStopped)
        {
            // The region stopped (this node handed its shards off and is leaving): nothing would answer.
            return EntityReply.Refuse(ErrorCodes.Unavailable,
                $"This node is shutting down; resource {envelope.ResourceId.Root.Value} is served by another node. Reconnect elsewhere.");
        }
        if (_leavingAlone)
        {
            return EntityReply.Refuse(ErrorCodes.Unavailable,
                $"This node is shutting down and no other node can serve resource {envelope.ResourceId.Root.Value}; nothing was changed. Reconnect when it is back.");
        }
        var root = envelope.ResourceId.Root.Value;
        var total = options.AskTimeout;
        var attempt = envelope.Message is IRetrySafeCommand && options.AttemptTimeout < total ? options.AttemptTimeout : total;
        var started = attempt < total ? Stopwatch.GetTimestamp() : 0;
        while (true)
        {
            var target = census.TryGetActive(root, out var local) ? local : regionRef;
            try
            {
                return await target.Ask<EntityReply>(envelope, attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (attempt < total && total - Stopwatch.GetElapsedTime(started) is var left && left > TimeSpan.Zero)
            {
                // Unanswered: its owner may be gone. Sending it again is safe for this command (IRetrySafeCommand).
                Interlocked.Increment(ref _retries);
                attempt = left < attempt ? left : attempt;
            }
            catch (AskTimeoutException)
            {
                return EntityReply.Refuse(ErrorCodes.Unavailable,
                    $"Resource {root} did not answer within {total.TotalSeconds:0.###} s " +
                    "(Collab:Entities:AskTimeout); nothing is known to have changed. Retry.");
            }
        }
    }
}
