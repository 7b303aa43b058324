using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Web.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Cluster operations over HTTP, read from Akka's own state (<see cref="Cluster.State"/>, sharding's
/// <see cref="GetClusterShardingStats"/>), never from a copy: <c>GET /cluster/members</c>, <c>GET /cluster/shards</c>
/// (operator roles), <c>POST /cluster/leave</c> and <c>POST /cluster/down</c> (admin, audited).
/// </summary>
public static class ClusterEndpoints
{
    public const string AdminPolicy = "cluster-admin";

    public static IEndpointRouteBuilder MapCluster(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = app.MapGroup("/cluster");
        group.MapGet("/members", (ActorSystem system, NodeIdentity node) => Results.Json(Members(system, node)))
            .WithSummary("Cluster members: address, node id, status, roles, up since, reachability.");
        group.MapGet("/shards", async (IRequiredActor<ResourceRegion> region, ActorSystem system, CancellationToken ct) =>
        {
            var stats = await (await region.GetAsync(ct).ConfigureAwait(false))
                .Ask<ClusterShardingStats>(new GetClusterShardingStats(TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            var members = Cluster.Get(system).State.Members.ToDictionary(m => m.Address, m => NodeRoles.NodeIdOf(m));
            var nodes = stats.Regions.Select(r => new
            {
                address = r.Key.ToString(),
                nodeId = members.GetValueOrDefault(r.Key),
                shardCount = r.Value.Stats.Count,
                entityCount = r.Value.Stats.Values.Sum(),
                failed = r.Value.Failed.Count,
                shards = r.Value.Stats.OrderBy(s => s.Key, StringComparer.Ordinal).ToDictionary(s => s.Key, s => s.Value),
            }).OrderBy(n => n.address, StringComparer.Ordinal).ToList();
            return Results.Json(new { typeName = ShardNames.Resources, totalShards = nodes.Sum(n => n.shardCount), totalEntities = nodes.Sum(n => n.entityCount), nodes });
        }).RequireAuthorization(CollabEndpoints.OperatorPolicy).WithSummary("Shard placement: shard → node with entity counts, totals per node.");
        group.MapPost("/leave", (HttpContext http, ActorSystem system, string? address) => Change(http, system, address, leave: true))
            .RequireAuthorization(AdminPolicy).WithSummary("Ask a member (default: this node) to leave gracefully (hand-off first); audited.");
        group.MapPost("/down", (HttpContext http, ActorSystem system, string? address) => Change(http, system, address, leave: false))
            .RequireAuthorization(AdminPolicy).WithSummary("Mark an unreachable member down so its shards move now; audited.");
        return app;
    }

    private static object Members(ActorSystem system, NodeIdentity node)
    {
        var state = Cluster.Get(system).State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var upSince = UpSince.For(system);
        return new
        {
            self = node.NodeId,
            leader = state.Leader?.ToString(),
            members = state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).Select(m => new
            {
                address = m.Address.ToString(),
                nodeId = NodeRoles.NodeIdOf(m),
                status = m.Status.ToString(),
                roles = m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToArray(),
                upSince = upSince.TryGetValue(m.UniqueAddress, out var at) ? at : (DateTimeOffset?)null,
                reachable = !unreachable.Contains(m.Address),
            }).ToList(),
        };
    }

    private static IResult Change(HttpContext http, ActorSystem system, string? address, bool leave)
    {
        var cluster = Cluster.Get(system);
        Address target;
        if (string.IsNullOrEmpty(address))
        {
            target = cluster.SelfAddress;
        }
        else if (cluster.State.Members.FirstOrDefault(m => m.Address.ToString() == address || NodeRoles.NodeIdOf(m) == address) is { } member)
        {
            target = member.Address;
        }
        else
        {
            return Problems.Result(http, StatusCodes.Status404NotFound, Messages.ErrorCodes.NotFound, $"No member {address} (an address or a node id).");
        }
        HttpAudit.Record(http, leave ? "CLUSTER_LEAVE" : "CLUSTER_DOWN", null, new Dictionary<string, object?> { ["address"] = target.ToString() });
        if (leave)
        {
            cluster.Leave(target);
        }
        else
        {
            cluster.Down(target);
        }
        return Results.Json(new { address = target.ToString(), action = leave ? "leaving" : "downed" }, statusCode: StatusCodes.Status202Accepted);
    }
}

/// <summary>When each member was first seen Up by this node (Akka keeps no timestamp of its own).</summary>
internal sealed class UpSince : ReceiveActor
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ActorSystem, System.Collections.Concurrent.ConcurrentDictionary<UniqueAddress, DateTimeOffset>> Seen = new();

    public UpSince()
    {
        var seen = Seen.GetOrAdd(Context.System, _ => new());
        Receive<ClusterEvent.MemberUp>(up => seen.TryAdd(up.Member.UniqueAddress, DateTimeOffset.UtcNow));
        Receive<ClusterEvent.MemberRemoved>(removed => seen.TryRemove(removed.Member.UniqueAddress, out _));
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var m in state.Members.Where(m => m.Status == MemberStatus.Up))
            {
                seen.TryAdd(m.UniqueAddress, DateTimeOffset.UtcNow);
            }
        });
    }

    protected override void PreStart() =>
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        Seen.TryRemove(Context.System, out _);
    }

    public static IReadOnlyDictionary<UniqueAddress, DateTimeOffset> For(ActorSystem system) =>
        Seen.TryGetValue(system, out var seen) ? seen : new Dictionary<UniqueAddress, DateTimeOffset>();
}

/// <summary><c>/ready</c> is ready only when this node is <c>Up</c> in the cluster.</summary>
public sealed class ClusterMemberHealthCheck(ActorSystem system) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var self = Cluster.Get(system).SelfMember;
        var data = new Dictionary<string, object> { ["status"] = self.Status.ToString(), ["address"] = self.Address.ToString() };
        return Task.FromResult(self.Status == MemberStatus.Up
            ? HealthCheckResult.Healthy("Up in the cluster.", data)
            : HealthCheckResult.Unhealthy($"This node is {self.Status} in the cluster, not Up.", data: data));
    }
}
