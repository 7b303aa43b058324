using System.Threading.Channels;
using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// The single owner of one root resource and all its children: presence, (later) locks and documents.
///
/// One mailbox, one reader: every message is handled to completion by <see cref="RunAsync"/> before the
/// next, so state lives in plain collections without locks. Replies and events leave through
/// non-blocking seams (a TaskCompletionSource, <see cref="Routing.IEntityEventSink"/>, <see cref="IAuditSink"/>),
/// so a slow client or store never stalls the loop.
/// </summary>
internal sealed partial class ResourceEntity
{
    private readonly Channel<EntityWork> _mailbox;
    private readonly EntityRuntime _runtime;
    private readonly Action<ResourceEntity, IReadOnlyList<EntityWork>> _onStopped;
    private readonly ILogger _logger;
    private EntityState _state = EntityState.Activating;
    private DateTimeOffset _lastActivity;

    public ResourceEntity(ResourceId root, EntityRuntime runtime, Action<ResourceEntity, IReadOnlyList<EntityWork>> onStopped)
    {
        Root = root;
        _runtime = runtime;
        _onStopped = onStopped;
        _logger = runtime.LoggerFactory.CreateLogger<ResourceEntity>();
        _mailbox = Channel.CreateBounded<EntityWork>(new BoundedChannelOptions(runtime.Options.MailboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _lastActivity = runtime.Time.GetUtcNow();
    }

    public ResourceId Root { get; }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Posts work; false when the mailbox is full or the entity has stopped taking messages.</summary>
    public PostResult TryPost(EntityWork work)
    {
        if (_mailbox.Writer.TryWrite(work))
        {
            return PostResult.Accepted;
        }
        return _mailbox.Reader.Completion.IsCompleted || Volatile.Read(ref _stopping) ? PostResult.Stopped : PostResult.Full;
    }

    private bool _stopping;

    private async Task RunAsync()
    {
        if (!await ActivateAsync().ConfigureAwait(false))
        {
            return;
        }
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var work))
            {
                if (work.Envelope.Message is Passivate)
                {
                    if (TryPassivate())
                    {
                        return;
                    }
                    continue;
                }
                await HandleAsync(work).ConfigureAwait(false);
            }
        }
    }

    // Loads durable state before the first message is handled; on failure every waiting caller gets
    // UNAVAILABLE and the entity stops, so the next message tries a fresh activation.
    private async Task<bool> ActivateAsync()
    {
        try
        {
            var snapshot = await _runtime.Locks.LoadAsync(Root.Value, CancellationToken.None).ConfigureAwait(false);
            RestoreLocks(snapshot);
            _state = EntityLifecycle.Transition(_state, EntityState.Active);
            ScheduleLockTimer();
            return true;
        }
#pragma warning disable CA1031 // Any load failure makes the resource unavailable, not the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            EntityLog.ActivationFailed(_logger, ex, Root.Value);
            _state = EntityLifecycle.Transition(_state, EntityState.Stopped);
            Volatile.Write(ref _stopping, true);
            _mailbox.Writer.TryComplete();
            while (_mailbox.Reader.TryRead(out var work))
            {
                work.Reply?.TrySetResult(EntityReply.Refuse(ErrorCodes.Unavailable,
                    $"Resource {Root.Value} could not be loaded from the store: {ex.Message}"));
            }
            _onStopped(this, []);
            return false;
        }
    }

    private async Task HandleAsync(EntityWork work)
    {
        EntityReply? reply;
        try
        {
            _lastActivity = _runtime.Time.GetUtcNow();
            var correlationId = work.Envelope.CorrelationId;
            reply = work.Envelope.Message switch
            {
                JoinResource m => await OnJoinAsync(m, correlationId).ConfigureAwait(false),
                LeaveResource m => await OnLeaveAsync(m, correlationId).ConfigureAwait(false),
                DisconnectMember m => OnDisconnect(m, correlationId),
                GetResourceState m => OnGetState(m),
                AcquireLock m => await OnAcquireAsync(m, correlationId).ConfigureAwait(false),
                ReleaseLock m => await OnReleaseAsync(m, correlationId).ConfigureAwait(false),
                RenewLock m => await OnRenewAsync(m, correlationId).ConfigureAwait(false),
                ForceReleaseLock m => await OnForceReleaseAsync(m, correlationId).ConfigureAwait(false),
                LockTick => await OnLockTickAsync().ConfigureAwait(false),
                SyncDocument m => await OnSyncAsync(m).ConfigureAwait(false),
                ApplyDocumentUpdate m => await OnDocumentUpdateAsync(m, correlationId, work.Reply).ConfigureAwait(false),
                SetDocumentField m => await OnSetFieldAsync(m, correlationId, work.Reply).ConfigureAwait(false),
                RelayAwareness m => OnAwareness(m),
                GetDocumentContent m => await OnGetContentAsync(m).ConfigureAwait(false),
                NotifyResourceUpdated m => OnResourceUpdated(m),
                _ => EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Unknown message {work.Envelope.Message.GetType().Name}."),
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
            EntityLog.HandlerFailed(_logger, ex, Root.Value, work.Envelope.Message.GetType().Name);
            reply = EntityReply.Refuse(ErrorCodes.Internal, "The resource could not handle the request.");
        }
        if (reply is not null)
        {
            work.Reply?.TrySetResult(reply); // null: the handler answers later (after a durable commit)
        }
    }

    private bool TryPassivate()
    {
        var now = _runtime.Time.GetUtcNow();
        if (!IsIdle || now - _lastActivity < _runtime.Options.PassivateAfter)
        {
            return false;
        }
        _state = EntityLifecycle.Transition(_state, EntityState.Passivating);
        Volatile.Write(ref _stopping, true);
        _mailbox.Writer.TryComplete();
        var leftovers = new List<EntityWork>();
        while (_mailbox.Reader.TryRead(out var work))
        {
            if (work.Envelope.Message is not Passivate)
            {
                leftovers.Add(work);
            }
        }
        _state = EntityLifecycle.Transition(_state, EntityState.Stopped);
        _lockTimer?.Dispose();
        EntityLog.Passivated(_logger, Root.Value);
        _onStopped(this, leftovers);
        return true;
    }

    private bool IsIdle => _connections.Count == 0 && !HasLocks && Volatile.Read(ref _uncommitted) == 0;

    private DateTimeOffset Now => _runtime.Time.GetUtcNow();

    private static partial class EntityLog
    {
        [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Entity {Root} failed handling {Message}.")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string root, string message);

        [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Entity {Root} passivated.")]
        public static partial void Passivated(ILogger logger, string root);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Entity {Root} could not be activated.")]
        public static partial void ActivationFailed(ILogger logger, Exception exception, string root);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Lock store write for {Resource} failed.")]
        public static partial void LockWriteFailed(ILogger logger, Exception exception, string resource);
    }
}

/// <summary>A message in an entity's mailbox with the place its answer goes.</summary>
internal sealed record EntityWork(EntityEnvelope Envelope, TaskCompletionSource<EntityReply>? Reply);

internal enum PostResult
{
    Accepted,
    Full,
    Stopped,
}

/// <summary>Internal: stop if idle long enough.</summary>
internal sealed record Passivate : IEntityCommand
{
    public static readonly Passivate Instance = new();
}
