using Akka.Actor;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Reaches entities with an <c>Ask</c> (<see cref="EntityOptions.AskTimeout"/>): straight to the entity when it is active
/// on this node (<see cref="EntityCensus"/>; <see cref="EntityDeadLetterRedirect"/> re-sends through the region what
/// reaches it after it stopped), otherwise through the resource shard region, which finds or starts it anywhere in the
/// cluster. A timeout is an UNAVAILABLE refusal naming the setting, never an exception at the hub.
/// </summary>
public sealed class ShardedEntityRouter(Func<CancellationToken, Task<IActorRef>> region, EntityOptions options, EntityCensus census) : IEntityRouter
{
    private IActorRef? _region;

    public IReadOnlyCollection<string> ActiveRoots => census.Roots;

    public async Task<EntityReply> SendAsync(EntityEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var target = census.TryGetActive(envelope.ResourceId.Root.Value, out var local)
            ? local
            : _region ??= await region(cancellationToken).ConfigureAwait(false);
        try
        {
            return await target.Ask<EntityReply>(envelope, options.AskTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return EntityReply.Refuse(ErrorCodes.Unavailable,
                $"Resource {envelope.ResourceId.Root.Value} did not answer within {options.AskTimeout.TotalSeconds:0.###} s " +
                "(Collab:Entities:AskTimeout); nothing is known to have changed. Retry.");
        }
    }
}
