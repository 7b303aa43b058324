using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// The decisions about one root resource and all its children: presence, locks and documents. Host-agnostic:
/// it is driven by one message at a time (<see cref="HandleAsync"/>) and answers with a reply, or with a commit to wait
/// for; events leave through <see cref="Routing.IEntityEventSink"/>, audit records through <see cref="IAuditSink"/>.
/// It never runs two messages at once and touches no state from another thread: its host
/// (<see cref="ResourceEntityActor"/>, a sharded actor) guarantees that, and timers only <see cref="IEntityHost.Post"/>
/// a message back to it.
/// </summary>
internal sealed partial class ResourceEntity
{
    private readonly EntityRuntime _runtime;
    private readonly IEntityHost _host;
    private readonly ILogger _logger;
    private DateTimeOffset _lastActivity;

    // Set by Accept while a message is handled: the commit the reply waits for.
    private PendingCommit? _deferred;

    public ResourceEntity(ResourceId root, EntityRuntime runtime, IEntityHost host)
    {
        Root = root;
        _runtime = runtime;
        _host = host;
        _logger = runtime.LoggerFactory.CreateLogger<ResourceEntity>();
        _lastActivity = runtime.Time.GetUtcNow();
    }

    public ResourceId Root { get; }

    /// <summary>This incarnation's ownership epoch of <see cref="Root"/>; every lock and document write carries it.</summary>
    public long Epoch { get; private set; }

    /// <summary>
    /// True once the store refused a write because a newer incarnation claimed the root: this one must stop
    /// (its host passivates it), and everything it is asked from now on is refused as moved.
    /// </summary>
    public bool Fenced { get; private set; }

    /// <summary>Updates handed to the committer and not yet durable; the entity must not stop before they are.</summary>
    public int Uncommitted => _uncommitted;

    /// <summary>No members, no locks, nothing uncommitted: nothing would be lost by stopping.</summary>
    public bool IsIdle => _connections.Count == 0 && !HasLocks && _uncommitted == 0;

    public DateTimeOffset LastActivity => _lastActivity;

    /// <summary>Claims the root (a new epoch, one atomic write) and restores its locks. Throws when the store cannot.</summary>
    public async Task ActivateAsync()
    {
        var claim = await _runtime.Locks.ClaimAsync(Root.Value, _runtime.NodeId, CancellationToken.None).ConfigureAwait(false);
        Epoch = claim.Epoch;
        RestoreLocks(claim.Locks);
        ScheduleLockTimer();
        EntityLog.Activated(_logger, Root.Value, Epoch);
    }

    /// <summary>Handles one message to completion. Never throws: failures become refusals.</summary>
    public async Task<EntityOutcome> HandleAsync(IEntityCommand message, string correlationId)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Fenced)
        {
            return new EntityOutcome(Moved(), null);
        }
        EntityReply reply;
        _deferred = null;
        try
        {
            _lastActivity = Now;
            reply = message switch
            {
                JoinResource m => await OnJoinAsync(m, correlationId).ConfigureAwait(false),
                LeaveResource m => await OnLeaveAsync(m, correlationId).ConfigureAwait(false),
                DisconnectMember m => OnDisconnect(m, correlationId),
                DisconnectNode m => OnNodeGone(m, correlationId),
                GetResourceState m => OnGetState(m),
                AcquireLock m => await OnAcquireAsync(m, correlationId).ConfigureAwait(false),
                ReleaseLock m => await OnReleaseAsync(m, correlationId).ConfigureAwait(false),
                RenewLock m => await OnRenewAsync(m, correlationId).ConfigureAwait(false),
                ForceReleaseLock m => await OnForceReleaseAsync(m, correlationId).ConfigureAwait(false),
                RequestLock m => OnRequestLock(m, correlationId),
                AnswerLockRequest m => await OnAnswerLockRequestAsync(m, correlationId).ConfigureAwait(false),
                LockRequestTick => await OnLockRequestTickAsync().ConfigureAwait(false),
                LockTick => await OnLockTickAsync().ConfigureAwait(false),
                SyncDocument m => await OnSyncAsync(m).ConfigureAwait(false),
                ApplyDocumentUpdate m => await OnDocumentUpdateAsync(m, correlationId).ConfigureAwait(false),
                SetDocumentField m => await OnSetFieldAsync(m, correlationId).ConfigureAwait(false),
                RelayAwareness m => OnAwareness(m),
                GetDocumentContent m => await OnGetContentAsync(m).ConfigureAwait(false),
                NotifyResourceUpdated m => OnResourceUpdated(m),
                RecheckPermissions => await OnRecheckPermissionsAsync(correlationId).ConfigureAwait(false),
                _ => EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Unknown message {message.GetType().Name}."),
            };
        }
        catch (StoreUnavailableException ex)
        {
            EntityLog.LockWriteFailed(_logger, ex, Root.Value);
            reply = EntityReply.Refuse(ErrorCodes.Unavailable, $"The store is unavailable; nothing was changed. {ex.Message}");
        }
#pragma warning disable CA1031 // A bug in one handler must not kill the entity; the caller gets INTERNAL_ERROR.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            EntityLog.HandlerFailed(_logger, ex, Root.Value, message.GetType().Name);
            reply = EntityReply.Refuse(ErrorCodes.Internal, "The resource could not handle the request.");
        }
        if (Fenced)
        {
            return new EntityOutcome(Moved(), _deferred);
        }
        var deferred = _deferred;
        _deferred = null;
        return new EntityOutcome(reply, deferred);
    }

    /// <summary>A commit the reply waited for has finished: the reply to send now.</summary>
    public EntityReply CompleteCommit(PendingCommit pending, CommitOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(pending);
        _uncommitted--;
        switch (outcome)
        {
            case CommitOutcome.Durable:
                return pending.Ack;
            case CommitOutcome.Fenced:
                MarkFenced();
                return Moved();
            default:
                return EntityReply.Refuse(ErrorCodes.Unavailable, "The update could not be stored; it will be merged again on your next sync.");
        }
    }

    /// <summary>The host stops this incarnation: no timer may fire into it any more.</summary>
    public void Stop()
    {
        _lockTimer?.Dispose();
        _lockTimer = null;
        StopHandover();
    }

    /// <summary>Applies a fenced write's verdict: false when the store refused it (and this incarnation is now fenced).</summary>
    private bool Written(StoreWrite write)
    {
        if (write == StoreWrite.Fenced)
        {
            MarkFenced();
            return false;
        }
        return true;
    }

    private void MarkFenced()
    {
        if (!Fenced)
        {
            Fenced = true;
            EntityLog.Fenced(_logger, Root.Value, Epoch);
        }
    }

    private EntityReply Moved() => EntityReply.Refuse(ErrorCodes.Unavailable,
        $"Resource {Root.Value} has moved to a newer owner (epoch {Epoch} was superseded); nothing was changed. Retry.");

    private DateTimeOffset Now => _runtime.Time.GetUtcNow();

    private static partial class EntityLog
    {
        [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Entity {Root} failed handling {Message}.")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string root, string message);

        [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Entity {Root} activated with epoch {Epoch}.")]
        public static partial void Activated(ILogger logger, string root, long epoch);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Lock store write for {Resource} failed.")]
        public static partial void LockWriteFailed(ILogger logger, Exception exception, string resource);

        [LoggerMessage(EventId = 2004, Level = LogLevel.Warning,
            Message = "Entity {Root} (epoch {Epoch}) was fenced: a newer incarnation owns the root; this one stops.")]
        public static partial void Fenced(ILogger logger, string root, long epoch);
    }
}

/// <summary>What the entity's host provides: a way to deliver a message to the entity later, in its own order.</summary>
internal interface IEntityHost
{
    void Post(IEntityCommand command);
}

/// <summary>The answer to one message: a reply now, or (with <see cref="Pending"/>) once a commit is durable.</summary>
internal readonly record struct EntityOutcome(EntityReply Reply, PendingCommit? Pending);

/// <summary>A commit a reply waits for: <see cref="Ack"/> is sent when <see cref="Durable"/> ends durable.</summary>
internal sealed record PendingCommit(Task<CommitOutcome> Durable, EntityReply Ack);

/// <summary>Internal: a lock deadline may have passed.</summary>
internal sealed record LockTick : IEntityCommand
{
    public static readonly LockTick Instance = new();
}
