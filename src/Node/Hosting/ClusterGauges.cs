using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using CollabAkka.Entities.Routing;
using Microsoft.Extensions.Hosting;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// This node's view of the cluster as gauges, next to <see cref="ClusterTraffic"/>'s counters: members by status,
/// unreachable members, whether this node is the leader (all read from Akka's cluster state at scrape time), and the
/// shards and entities this node's region hosts (Akka's <see cref="GetShardRegionState"/>, asked every
/// <see cref="RefreshInterval"/>: a scrape never waits for the region).
/// </summary>
internal sealed class ClusterGauges : BackgroundService
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private static readonly MemberStatus[] Statuses =
        [MemberStatus.Joining, MemberStatus.WeaklyUp, MemberStatus.Up, MemberStatus.Leaving, MemberStatus.Exiting, MemberStatus.Down, MemberStatus.Removed];

    private readonly IServiceProvider _services;
    private readonly IRequiredActor<ResourceRegion> _region;
    private volatile Cluster? _cluster; // once the ActorSystem has started
    private volatile CurrentShardRegionState? _shards;

    public ClusterGauges(IServiceProvider services, IRequiredActor<ResourceRegion> region, ClusterTraffic traffic)
    {
        ArgumentNullException.ThrowIfNull(traffic);
        _services = services;
        _region = region;
        var meter = traffic.Meter;
        meter.CreateObservableGauge("collab_cluster_members", Members, "{member}", "Cluster members by status, as this node sees them.");
        meter.CreateObservableGauge("collab_cluster_unreachable_members", () => _cluster?.State.Unreachable.Count ?? 0, "{member}",
            "Members this node's failure detector marks unreachable.");
        meter.CreateObservableGauge("collab_cluster_is_leader", () => _cluster is { } c && c.State.Leader == c.SelfAddress ? 1 : 0, null,
            "1 when this node is the cluster leader.");
        meter.CreateObservableGauge("collab_cluster_shards", () => _shards?.Shards.Count ?? 0, "{shard}",
            "Resource shards hosted by this node (refreshed every 5 s).");
        meter.CreateObservableGauge("collab_cluster_shard_entities", () => _shards?.Shards.Sum(s => s.EntityIds.Count) ?? 0, "{entity}",
            "Entities in the shards hosted by this node (refreshed every 5 s).");
    }

    private IEnumerable<Measurement<int>> Members()
    {
        if (_cluster is not { } cluster)
        {
            yield break;
        }
        var members = cluster.State.Members;
        foreach (var status in Statuses)
        {
            yield return new Measurement<int>(members.Count(m => m.Status == status),
                new KeyValuePair<string, object?>("status", status.ToString().ToLowerInvariant()));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshInterval);
        var region = await _region.GetAsync(stoppingToken).ConfigureAwait(false);
        _cluster = Cluster.Get((ActorSystem)_services.GetService(typeof(ActorSystem))!);
        do
        {
            try
            {
                _shards = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, RefreshInterval, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException or OperationCanceledException)
            {
                // The region is busy or stopping: the gauges keep the last answer.
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
