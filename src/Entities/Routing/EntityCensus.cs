using System.Collections.Concurrent;
using Akka.Actor;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Which roots have a live entity on this node (for <c>/api/stats</c> and <c>/metrics</c>), and the actor of each one
/// that is active here, so <see cref="ShardedEntityRouter"/> can send to a local entity without the region's and the
/// shard's two extra mailbox hops (ARCHITECTURE §3 has the measurement). Entities add and withdraw themselves; nothing
/// else reads or writes entity state through it.
/// </summary>
public sealed class EntityCensus
{
    private readonly ConcurrentDictionary<string, int> _roots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IActorRef> _active = new(StringComparer.Ordinal);

    public int Count => _roots.Count;

    public IReadOnlyCollection<string> Roots => _roots.Keys.ToArray();

    internal void Add(string root) => _roots.AddOrUpdate(root, 1, static (_, n) => n + 1);

    internal void Remove(string root)
    {
        while (_roots.TryGetValue(root, out var n))
        {
            if (n <= 1 ? _roots.TryRemove(new KeyValuePair<string, int>(root, n)) : _roots.TryUpdate(root, n - 1, n))
            {
                return;
            }
        }
    }

    /// <summary>The entity of <paramref name="root"/> is active on this node and takes messages directly.</summary>
    internal void Publish(string root, IActorRef entity) => _active[root] = entity;

    /// <summary>The entity stops taking messages directly (it is stopping, or stopped); only its own entry goes.</summary>
    internal void Withdraw(string root, IActorRef entity) => _active.TryRemove(new KeyValuePair<string, IActorRef>(root, entity));

    /// <summary>The local active entity of <paramref name="root"/>, if there is one.</summary>
    internal bool TryGetActive(string root, out IActorRef entity) => _active.TryGetValue(root, out entity!);
}
