using Akka.Actor;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Reaches entities through the resource shard region: an <c>Ask</c> with <see cref="EntityOptions.AskTimeout"/>.
/// A timeout is an UNAVAILABLE refusal naming the setting, never an exception at the hub.
/// </summary>
public sealed class ShardedEntityRouter(Func<CancellationToken, Task<IActorRef>> region, EntityOptions options, EntityCensus census) : IEntityRouter
{
    private IActorRef? _region;

    public IReadOnlyCollection<string> ActiveRoots => census.Roots;

    public async Task<EntityReply> SendAsync(EntityEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var target = _region ??= await region(cancellationToken).ConfigureAwait(false);
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
