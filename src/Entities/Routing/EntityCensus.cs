using System.Collections.Concurrent;

namespace CollabAkka.Entities.Routing;

/// <summary>
/// Which roots have a live entity on this node, for <c>/api/stats</c> and <c>/metrics</c>. Entities add themselves
/// when they start and remove themselves when they stop; nothing else reads or writes entity state through it.
/// </summary>
public sealed class EntityCensus
{
    private readonly ConcurrentDictionary<string, int> _roots = new(StringComparer.Ordinal);

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
}
