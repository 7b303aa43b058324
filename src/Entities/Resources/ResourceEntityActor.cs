using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Dispatch;
using Akka.Event;
using CollabAkka.Entities.Configuration;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// Hosts one <see cref="ResourceEntity"/> as a sharded actor, one per root id. Its behaviours are the entity's
/// lifecycle:
/// <code>
///   Activating ──(claimed)──▶ Active ──(idle, fenced, or hand-off)──▶ Stopping ──(commits drained)──▶ stopped
///        └──(claim failed)──▶ Failed ──▶ Stopping
/// </code>
/// Activating stashes what arrives until the root is claimed. Active hands each message to the entity; a message whose
/// handler awaits I/O keeps the mailbox suspended until it is done (<see cref="ActorTaskScheduler.RunTask(Func{Task})"/>),
/// so the entity sees one message at a time. A reply that waits for a commit is sent when the commit reports back
/// (<see cref="CommitCompleted"/>, piped to Self). While Active it is listed in <see cref="EntityCensus"/>, so this node's
/// router sends to it directly; it withdraws before it stops. Stopping forwards whatever still arrives to the region,
/// which buffers it for the next incarnation (the shard holds messages for an entity that is passivating or handing
/// off), and what reaches it after it stopped is re-sent through the region by <see cref="EntityDeadLetterRedirect"/>,
/// so a message racing a passivation is never lost.
/// </summary>
internal sealed class ResourceEntityActor : ReceiveActor, IWithStash, IEntityHost
{
    private readonly ResourceEntity _entity;
    private readonly EntityRuntime _runtime;
    private readonly EntityCensus _census;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Waiting> _waiting = [];
    private readonly IActorRef _self;
    private long _nextTicket;
    private ITimer? _passivationTimer;
    private bool _handOffReceived;

    public ResourceEntityActor(string entityId, EntityRuntime runtime, EntityCensus census)
    {
        _runtime = runtime;
        _census = census;
        _self = Self;
        _entity = new ResourceEntity(ResourceId.Parse(entityId), runtime, this);
        Activating();
    }

    public IStash Stash { get; set; } = null!;

    public static Props PropsFor(string entityId, EntityRuntime runtime, EntityCensus census) =>
        Props.Create(() => new ResourceEntityActor(entityId, runtime, census));

    /// <summary>Timers and commit continuations deliver through here: the entity's own mailbox, in order.</summary>
    void IEntityHost.Post(IEntityCommand command) =>
        _self.Tell(new EntityEnvelope(_entity.Root, "self", command), ActorRefs.NoSender);

    protected override void PreStart()
    {
        _census.Add(_entity.Root.Value);
        // Node loss: when a member is removed (left, or downed by the split-brain resolver), its connections are gone.
        Cluster.Get(Context.System).Subscribe(_self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));
        // resources.yml reloaded on this node: re-check who may still be here (ResourceEntity.Permissions).
        Context.System.EventStream.Subscribe(_self, typeof(ResourceCatalogReplaced));
        _entity.ActivateAsync().PipeTo(_self, success: () => Activated.Instance, failure: ex => new ActivationFailed(ex));
    }

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(_self);
        Context.System.EventStream.Unsubscribe(_self, typeof(ResourceCatalogReplaced));
        _census.Withdraw(_entity.Root.Value, _self);
        _entity.Stop();
        _passivationTimer?.Dispose();
        _census.Remove(_entity.Root.Value);
        foreach (var waiting in _waiting.Values)
        {
            waiting.Sender.Tell(EntityReply.Refuse(ErrorCodes.Unavailable,
                "The resource stopped before the update was confirmed durable; it will be merged again on your next sync."));
        }
        _waiting.Clear();
    }

    private void Activating()
    {
        Receive<Activated>(_ =>
        {
            var interval = _runtime.Options.PassivationSweepInterval;
            _passivationTimer = _runtime.Time.CreateTimer(static state => ((IActorRef)state!).Tell(PassivationCheck.Instance),
                _self, interval, interval);
            Become(Active);
            Stash.UnstashAll();
            _census.Publish(_entity.Root.Value, _self);
            AnnounceActivated();
        });
        Receive<ActivationFailed>(failed =>
        {
            _log.Error(failed.Cause, "Entity {0} could not be activated; waiting callers get UNAVAILABLE.", _entity.Root.Value);
            Become(() => Failed(failed.Cause));
            Stash.UnstashAll();
            Context.Parent.Tell(new Passivate(HandOffStop.Instance)); // stays Failed until the stop arrives
        });
        Receive<HandOffStop>(_ => Stash.Stash());
        ReceiveAny(_ => Stash.Stash());
    }

    private void Active()
    {
        Receive<EntityEnvelope>(Handle);
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (NodeRoles.NodeIdOf(removed.Member) is { } nodeId && nodeId != _runtime.NodeId)
            {
                Dispatch(new EntityEnvelope(_entity.Root, "member-removed", new DisconnectNode(nodeId, "node_lost")), ActorRefs.Nobody);
            }
        });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<ResourceCatalogReplaced>(replaced =>
            Dispatch(new EntityEnvelope(_entity.Root, $"catalog-{replaced.Version}", RecheckPermissions.Instance), ActorRefs.Nobody));
        Receive<CommitCompleted>(OnCommitCompleted);
        Receive<PassivationCheck>(_ =>
        {
            if (_entity.IsIdle && _waiting.Count == 0 && _runtime.Time.GetUtcNow() - _entity.LastActivity >= _runtime.Options.PassivateAfter)
            {
                RequestStop();
            }
        });
        Receive<HandOffStop>(_ =>
        {
            // The region moves this shard (rebalance, or this node leaving): drain the commits, then stop.
            _log.Info("Entity {0} is handed off; {1} commits to drain first.", _entity.Root.Value, _waiting.Count);
            _handOffReceived = true;
            _census.Withdraw(_entity.Root.Value, _self);
            Become(Stopping);
            TryStop();
        });
    }

    // Activation failed: everyone waiting is refused; the next message after the stop tries a fresh activation.
    private void Failed(Exception cause)
    {
        Receive<EntityEnvelope>(envelope => ReplyTo(Sender, EntityReply.Refuse(ErrorCodes.Unavailable,
            $"Resource {envelope.ResourceId.Root.Value} could not be loaded from the store: {cause.Message}")));
        Receive<HandOffStop>(_ => Context.Stop(Self));
        ReceiveAny(_ => { });
    }

    private void Stopping()
    {
        Receive<EntityEnvelope>(envelope =>
        {
            if (envelope.Message is LockTick)
            {
                return; // the next incarnation schedules its own timers
            }
            ClusterSharding.Get(Context.System).ShardRegion(ShardNames.Resources).Forward(envelope);
        });
        Receive<CommitCompleted>(completed =>
        {
            OnCommitCompleted(completed);
            TryStop();
        });
        Receive<HandOffStop>(_ =>
        {
            _handOffReceived = true;
            TryStop();
        });
        ReceiveAny(_ => { });
    }

    private void Handle(EntityEnvelope envelope) => Dispatch(envelope, Sender);

    private void Dispatch(EntityEnvelope envelope, IActorRef sender)
    {
        var handled = _entity.HandleAsync(envelope.Message, envelope.CorrelationId);
        if (handled.IsCompletedSuccessfully)
        {
            Finish(handled.Result, sender);
            return;
        }
        // The handler awaits I/O (a store write, a document load): the mailbox stays suspended until it is done.
        // Finish must run on the actor's context (ConfigureAwait(true)): a fenced entity's RequestStop reads
        // Context.Parent and calls Become. With ConfigureAwait(false) it threw "There is no active ActorContext"
        // (seen in the chaos run): the fenced incarnation never passivated and answered UNAVAILABLE until handed off.
        ActorTaskScheduler.RunTask(async () => Finish(await handled.ConfigureAwait(true), sender));
    }

    private void Finish(EntityOutcome outcome, IActorRef sender)
    {
        if (outcome.Pending is { } pending)
        {
            var ticket = ++_nextTicket;
            _waiting[ticket] = new Waiting(sender, pending);
            pending.Durable.PipeTo(_self,
                success: result => new CommitCompleted(ticket, result),
                failure: _ => new CommitCompleted(ticket, CommitOutcome.Failed));
        }
        else
        {
            ReplyTo(sender, outcome.Reply);
        }
        if (_entity.Fenced)
        {
            RequestStop();
        }
    }

    private void OnCommitCompleted(CommitCompleted completed)
    {
        if (!_waiting.Remove(completed.Ticket, out var waiting))
        {
            return;
        }
        ReplyTo(waiting.Sender, _entity.CompleteCommit(waiting.Pending, completed.Outcome));
        if (_entity.Fenced)
        {
            RequestStop();
        }
    }

    /// <summary>
    /// Tells every node this root has a new incarnation, so the nodes holding its connections re-register them
    /// (after a move, the new owner starts without members).
    /// </summary>
    private void AnnounceActivated()
    {
        var announcement = new EntityActivated(_entity.Root.Value, _entity.Epoch, _runtime.NodeId);
        foreach (var member in Cluster.Get(Context.System).State.Members.Where(m => m.Status == MemberStatus.Up))
        {
            Context.ActorSelection(new RootActorPath(member.Address) / "user" / DeliveryActor.Name).Tell(announcement, ActorRefs.NoSender);
        }
    }

    /// <summary>Asks the shard to passivate this entity; from now on new messages go back to the region.</summary>
    private void RequestStop()
    {
        _census.Withdraw(_entity.Root.Value, _self);
        Context.Parent.Tell(new Passivate(HandOffStop.Instance));
        Become(Stopping);
    }

    private void TryStop()
    {
        if (_handOffReceived && _waiting.Count == 0)
        {
            Context.Stop(Self);
        }
    }

    private static void ReplyTo(IActorRef sender, EntityReply reply)
    {
        if (!sender.IsNobody())
        {
            sender.Tell(reply);
        }
    }

    private sealed record Waiting(IActorRef Sender, PendingCommit Pending);

    private sealed class Activated
    {
        public static readonly Activated Instance = new();
    }

    private sealed record ActivationFailed(Exception Cause);

    private sealed record CommitCompleted(long Ticket, CommitOutcome Outcome);

    private sealed class PassivationCheck
    {
        public static readonly PassivationCheck Instance = new();
    }
}

/// <summary>
/// The stop message of the resource region: sent by a shard to each entity it hands off, and by an entity to itself
/// (through <see cref="Passivate"/>) when it is idle or fenced. The entity drains its commits before it stops.
/// </summary>
public sealed class HandOffStop : ICollabMessage
{
    public static readonly HandOffStop Instance = new();
}

/// <summary>Names of the node's shard regions.</summary>
public static class ShardNames
{
    public const string Resources = "resource";
}

/// <summary>
/// The shard of a root: a stable hash (MurmurHash of the root id) modulo the shard count, the same on every node and
/// every start. All children of a root reach the same entity.
/// </summary>
public sealed class ResourceMessageExtractor(int shardCount) : HashCodeMessageExtractor(shardCount)
{
    public override string? EntityId(object message) => message switch
    {
        EntityEnvelope envelope => envelope.ResourceId.Root.Value,
        _ => null,
    };
}
