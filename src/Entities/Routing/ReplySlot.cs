using Akka.Actor;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// The reply address of one command sent straight to a local entity: what Akka's <c>Ask</c> does, without its
/// thread-pool hop. <c>Ask</c> completes its task with <c>RunContinuationsAsynchronously</c>, so every answer costs one
/// more work item and wakes one more thread-pool worker before the hub can write it (ARCHITECTURE §2 has the measured
/// effect). Here the entity's <c>Tell</c> of its reply runs the waiting caller's continuation (mapping the reply, writing
/// it to the connection) on the entity's thread, as far as its first real wait.
/// <para>
/// That is done only on a plain thread-pool thread: when the reply is told from inside an entity's async handler
/// (<c>TaskScheduler.Current</c> is the actor's scheduler) or under a synchronization context, the continuation is
/// queued instead, so no caller code ever runs on an actor's scheduler. The slot is registered as a temporary actor
/// like an <c>Ask</c>'s, so a reply from another node (the entity was stopping and forwarded the command through the
/// region) still finds it.
/// </para>
/// </summary>
internal sealed class ReplySlot : MinimalActorRef
{
    private readonly TaskCompletionSource<EntityReply> _reply = new(); // continuations inline: see the summary

    private ReplySlot(IActorRefProvider provider, ActorPath path)
    {
        Provider = provider;
        Path = path;
    }

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    /// <summary>
    /// Sends <paramref name="envelope"/> to <paramref name="entity"/> and waits at most <paramref name="timeout"/> for its
    /// reply. Throws <see cref="TimeoutException"/> when none came, like <c>Ask</c> throws <c>AskTimeoutException</c>.
    /// </summary>
    public static async Task<EntityReply> SendAsync(IActorRefProvider provider, IActorRef entity, EntityEnvelope envelope, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var slot = new ReplySlot(provider, provider.TempPath());
        provider.RegisterTempActor(slot, slot.Path);
        try
        {
            entity.Tell(envelope, slot);
            return await slot._reply.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            provider.UnregisterTempActor(slot.Path);
        }
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is not EntityReply reply)
        {
            return;
        }
        if (TaskScheduler.Current == TaskScheduler.Default && SynchronizationContext.Current is null)
        {
            _reply.TrySetResult(reply);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Slot._reply.TrySetResult(s.Reply), (Slot: this, Reply: reply), preferLocal: true);
        }
    }
}
