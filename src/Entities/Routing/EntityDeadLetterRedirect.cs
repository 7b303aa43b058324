using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// The safety net of the router's direct path: a message sent straight to a local entity that stopped in the meantime
/// (it withdrew from <see cref="EntityCensus"/> before stopping, but a sender may have looked it up just before) becomes
/// a dead letter; this actor sends it again through the region, with its original sender, so the caller gets its
/// answer from the next incarnation instead of waiting for the ask timeout. Only envelopes addressed to an entity of
/// the resource region are redirected, once each (the region's own dead letters are not, so nothing can loop).
/// </summary>
public sealed class EntityDeadLetterRedirect : ReceiveActor
{
    public const string Name = "entity-dead-letters";

    // /system/sharding/<type name>/<shard>/<entity>
    private static readonly string EntityPathPrefix = $"/system/sharding/{ShardNames.Resources}/";

    public EntityDeadLetterRedirect()
    {
        Receive<DeadLetter>(dead =>
        {
            if (dead.Message is EntityEnvelope envelope && IsEntity(dead.Recipient))
            {
                ClusterSharding.Get(Context.System).ShardRegion(ShardNames.Resources).Tell(envelope, dead.Sender);
            }
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new EntityDeadLetterRedirect());

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private static bool IsEntity(IActorRef recipient) =>
        recipient.Path.Elements.Count == 5 && recipient.Path.ToStringWithoutAddress().StartsWith(EntityPathPrefix, StringComparison.Ordinal);
}
