using System.Collections.Concurrent;

namespace CollabAkka.Web.Security;

/// <summary>
/// Lets at most <c>perWindow</c> audit records per key through in each window and counts the rest, so a
/// flood of refused traffic costs a bounded number of rows. The next record let through for a key
/// carries how many were suppressed before it (<c>suppressed</c> in its details); <see cref="Drain"/>
/// hands out the counts of a key that goes away (a closed connection).
/// </summary>
public sealed class AuditThrottle(int perWindow, TimeSpan window, int maxKeys = 100_000)
{
    private sealed class Window
    {
        public DateTimeOffset Start;
        public int Passed;
        public int Suppressed;
    }

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>Null when the record is suppressed; otherwise how many were suppressed since the last one let through.</summary>
    public int? TryPass(string key, DateTimeOffset now)
    {
        if (!_windows.TryGetValue(key, out var w))
        {
            if (_windows.Count >= maxKeys)
            {
                _windows.Clear(); // bounded memory beats exact counts under an attack on the key space
            }
            w = _windows.GetOrAdd(key, _ => new Window { Start = now });
        }
        lock (w)
        {
            if (now - w.Start >= window)
            {
                w.Start = now;
                w.Passed = 0;
            }
            if (w.Passed >= perWindow)
            {
                w.Suppressed++;
                return null;
            }
            w.Passed++;
            var suppressed = w.Suppressed;
            w.Suppressed = 0;
            return suppressed;
        }
    }

    /// <summary>Removes the keys starting with <paramref name="prefix"/>, returning those with suppressed records.</summary>
    public IReadOnlyList<(string Key, int Suppressed)> Drain(string prefix)
    {
        var result = new List<(string, int)>();
        foreach (var key in _windows.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && _windows.TryRemove(key, out var w))
            {
                lock (w)
                {
                    if (w.Suppressed > 0)
                    {
                        result.Add((key, w.Suppressed));
                    }
                }
            }
        }
        return result;
    }
}
