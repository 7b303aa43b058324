using System.Diagnostics.Metrics;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Events that cross nodes (meter <c>CollabAkka.Cluster</c>): what this node's entities sent to other nodes' delivery
/// actors, what this node's delivery actor received, and how long a received event took from the entity that emitted it
/// (its timestamp, on the emitting node's clock: meaningful with synchronized clocks, which a cluster needs anyway for
/// lock expiry). The latency is exported as a Prometheus summary's <c>_sum</c> and <c>_count</c>, so
/// <c>rate(sum) / rate(count)</c> is the mean over any window.
/// </summary>
public sealed class ClusterTraffic : IDisposable
{
    public const string MeterName = "CollabAkka.Cluster";

    private readonly Meter _meter;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _received;
    private readonly Counter<double> _latencySum;
    private readonly Counter<long> _latencyCount;
    private readonly TimeProvider _time;

    public ClusterTraffic(IMeterFactory? meterFactory, TimeProvider time)
    {
        _time = time;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _sent = _meter.CreateCounter<long>("collab_cluster_events_sent_total", "{message}",
            "Event messages sent to other nodes' delivery actors (one per node per event, whatever its number of connections there).");
        _received = _meter.CreateCounter<long>("collab_cluster_events_received_total", "{message}",
            "Event messages received from entities on other nodes, for this node's connections.");
        _latencySum = _meter.CreateCounter<double>("collab_cluster_event_delivery_seconds_sum", "s",
            "Sum over received cross-node events of (received at - emitted at).");
        _latencyCount = _meter.CreateCounter<long>("collab_cluster_event_delivery_seconds_count", "{message}",
            "Cross-node events whose delivery time is in collab_cluster_event_delivery_seconds_sum.");
    }

    /// <summary>The meter, for gauges about the cluster that belong with these counters.</summary>
    public Meter Meter => _meter;

    internal void Sent() => _sent.Add(1);

    internal void Received(EntityBroadcast broadcast)
    {
        _received.Add(1);
        var seconds = (_time.GetUtcNow() - broadcast.Event.Timestamp).TotalSeconds;
        _latencySum.Add(Math.Max(0, seconds));
        _latencyCount.Add(1);
    }

    public void Dispose() => _meter.Dispose();
}
