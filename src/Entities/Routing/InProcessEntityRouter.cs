using System.Collections.Concurrent;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Embedded placement: every root's entity lives in this process, created on first message.
/// Idle entities are passivated by a periodic sweep; a message racing a passivation is re-sent to a
/// fresh entity, so callers never see the hand-over.
/// </summary>
public sealed partial class InProcessEntityRouter : IEntityRouter, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ResourceEntity> _entities = new(StringComparer.Ordinal);
    private readonly EntityRuntime _runtime;
    private readonly ILogger _logger;
    private readonly ITimer _sweep;

    public InProcessEntityRouter(EntityRuntime runtime)
    {
        _runtime = runtime;
        _logger = runtime.LoggerFactory.CreateLogger<InProcessEntityRouter>();
        var interval = runtime.Options.PassivationSweepInterval;
        _sweep = runtime.Time.CreateTimer(_ => SweepIdle(), null, interval, interval);
    }

    public IReadOnlyCollection<string> ActiveRoots => _entities.Keys.ToArray();

    public Task<EntityReply> SendAsync(EntityEnvelope envelope, CancellationToken cancellationToken = default)
    {
        var reply = new TaskCompletionSource<EntityReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        Dispatch(new EntityWork(envelope, reply));
        return reply.Task.WaitAsync(cancellationToken);
    }

    private void Dispatch(EntityWork work)
    {
        var root = work.Envelope.ResourceId.Root;
        while (true)
        {
            var entity = _entities.GetOrAdd(root.Value, static (_, state) => state.self.Create(state.root), (self: this, root));
            switch (entity.TryPost(work))
            {
                case PostResult.Accepted:
                    return;
                case PostResult.Full:
                    work.Reply?.TrySetResult(EntityReply.Refuse(ErrorCodes.Unavailable,
                        $"Resource {root.Value} is overloaded: its mailbox holds {_runtime.Options.MailboxCapacity} messages. " +
                        "The bound is configured by Collab:Entities:MailboxCapacity."));
                    return;
                default:
                    // Passivated between lookup and post: drop that instance and try a fresh one.
                    _entities.TryRemove(new KeyValuePair<string, ResourceEntity>(root.Value, entity));
                    break;
            }
        }
    }

    private ResourceEntity Create(ResourceId root)
    {
        var entity = new ResourceEntity(root, _runtime, OnEntityStopped);
        entity.Start();
        return entity;
    }

    private void OnEntityStopped(ResourceEntity entity, IReadOnlyList<EntityWork> leftovers)
    {
        _entities.TryRemove(new KeyValuePair<string, ResourceEntity>(entity.Root.Value, entity));
        foreach (var work in leftovers)
        {
            Dispatch(work);
        }
    }

    private void SweepIdle()
    {
        foreach (var entity in _entities.Values)
        {
            entity.TryPost(new EntityWork(new EntityEnvelope(entity.Root, "passivation", Passivate.Instance), null));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sweep.DisposeAsync().ConfigureAwait(false);
    }
}
