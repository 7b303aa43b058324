using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Where entities publish events, on any node: recipients on this node go straight to the local sink (SignalR);
/// for every other node that holds recipients, one <see cref="EntityBroadcast"/> with just that node's recipients goes
/// to its <see cref="DeliveryActor"/> by a direct actor reference (serialized once per node, not per connection).
/// A node is found by its cluster role <c>node-&lt;id&gt;</c>; DESIGN §3 explains why not Distributed Pub/Sub
/// (a new subscription takes about a second to be seen elsewhere and drops publishes meanwhile).
/// </summary>
public sealed class ClusterEventSink : IEntityEventSink
{
    private readonly ConcurrentDictionary<string, ActorSelection> _nodes = new(StringComparer.Ordinal);
    private readonly ActorSystem _system;
    private readonly string _localNodeId;
    private readonly IEntityEventSink _local;
    private readonly ClusterTraffic? _traffic;

    public ClusterEventSink(ActorSystem system, string localNodeId, IEntityEventSink local, ClusterTraffic? traffic = null)
    {
        _system = system;
        _localNodeId = localNodeId;
        _local = local;
        _traffic = traffic;
        // A node that left may come back at another address (a rescheduled pod): forget where it was.
        system.ActorOf(Props.Create(() => new ForgetRemovedNodes(this)));
    }

    public void Publish(EntityBroadcast broadcast)
    {
        ArgumentNullException.ThrowIfNull(broadcast);
        var remote = false;
        foreach (var recipient in broadcast.Recipients)
        {
            if (recipient.NodeId != _localNodeId)
            {
                remote = true;
                break;
            }
        }
        if (!remote)
        {
            _local.Publish(broadcast);
            return;
        }
        foreach (var group in broadcast.Recipients.GroupBy(r => r.NodeId, StringComparer.Ordinal))
        {
            var part = broadcast with { Recipients = group.ToList() };
            if (group.Key == _localNodeId)
            {
                _local.Publish(part);
            }
            else if (Resolve(group.Key) is { } delivery)
            {
                delivery.Tell(part, ActorRefs.NoSender);
                _traffic?.Sent();
            }
            // A node that is not (or no longer) a member: its connections are gone; the entity drops them on MemberRemoved.
        }
    }

    private ActorSelection? Resolve(string nodeId)
    {
        if (_nodes.TryGetValue(nodeId, out var known))
        {
            return known;
        }
        var role = NodeRoles.For(nodeId);
        var member = Cluster.Get(_system).State.Members.FirstOrDefault(m => m.Roles.Contains(role));
        if (member is null)
        {
            return null;
        }
        var selection = _system.ActorSelection(new RootActorPath(member.Address) / "user" / DeliveryActor.Name);
        _nodes[nodeId] = selection;
        return selection;
    }

    /// <summary>Forgets a node's address (it left or was removed; it may come back elsewhere).</summary>
    public void Forget(string nodeId) => _nodes.TryRemove(nodeId, out _);
}

/// <summary>Tells the sink when a member is removed, so its cached address is looked up again next time.</summary>
internal sealed class ForgetRemovedNodes : ReceiveActor
{
    public ForgetRemovedNodes(ClusterEventSink sink)
    {
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (NodeRoles.NodeIdOf(removed.Member) is { } nodeId)
            {
                sink.Forget(nodeId);
            }
        });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    protected override void PreStart() =>
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
}

/// <summary>The cluster role that names a node's id, so a member maps to the node id of its connections.</summary>
public static class NodeRoles
{
    public const string Prefix = "node-";

    public static string For(string nodeId) => Prefix + nodeId;

    public static string? NodeIdOf(Member member)
    {
        ArgumentNullException.ThrowIfNull(member);
        var role = member.Roles.FirstOrDefault(r => r.StartsWith(Prefix, StringComparison.Ordinal));
        return role?[Prefix.Length..];
    }
}

/// <summary>
/// One per node (<c>/user/delivery</c>): takes the events other nodes' entities send for this node's connections and
/// hands them to the local sink, which fans out to the SignalR connections.
/// </summary>
public sealed class DeliveryActor : ReceiveActor
{
    public const string Name = "delivery";

    public DeliveryActor(IEntityEventSink local, Action<EntityActivated> activated, ClusterTraffic? traffic = null)
    {
        Receive<EntityBroadcast>(broadcast =>
        {
            traffic?.Received(broadcast);
            local.Publish(broadcast);
        });
        Receive<EntityActivated>(activated);
    }
}
