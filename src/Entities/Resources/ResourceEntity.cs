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
        _state = EntityLifecycle.Transition(_state, EntityState.Active);
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
                Handle(work);
            }
        }
    }

    private void Handle(EntityWork work)
    {
        EntityReply reply;
        try
        {
            _lastActivity = _runtime.Time.GetUtcNow();
            reply = work.Envelope.Message switch
            {
                JoinResource m => OnJoin(m, work.Envelope.CorrelationId),
                LeaveResource m => OnLeave(m, work.Envelope.CorrelationId),
                DisconnectMember m => OnDisconnect(m, work.Envelope.CorrelationId),
                GetResourceState m => OnGetState(m),
                _ => EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Unknown message {work.Envelope.Message.GetType().Name}."),
            };
        }
#pragma warning disable CA1031 // A bug in one handler must not kill the entity; the caller gets INTERNAL_ERROR.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            EntityLog.HandlerFailed(_logger, ex, Root.Value, work.Envelope.Message.GetType().Name);
            reply = EntityReply.Refuse(ErrorCodes.Internal, "The resource could not handle the request.");
        }
        work.Reply?.TrySetResult(reply);
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
        EntityLog.Passivated(_logger, Root.Value);
        _onStopped(this, leftovers);
        return true;
    }

    private bool IsIdle => _connections.Count == 0;

    private DateTimeOffset Now => _runtime.Time.GetUtcNow();

    private static partial class EntityLog
    {
        [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Entity {Root} failed handling {Message}.")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string root, string message);

        [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Entity {Root} passivated.")]
        public static partial void Passivated(ILogger logger, string root);
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
