using System.Collections.Concurrent;

namespace CollabAkka.Web.Sessions;

/// <summary>The live connections of this node. Thread-safe; the per-user limit is checked atomically.</summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _perUser = new(StringComparer.Ordinal);

    public int Count => _sessions.Count;

    public IEnumerable<Session> All => _sessions.Values;

    /// <summary>Adds the session unless its user already has <paramref name="maxPerUser"/> connections.</summary>
    public bool TryRegister(Session session, int maxPerUser, out int existing)
    {
        lock (_perUser)
        {
            _perUser.TryGetValue(session.UserId, out existing);
            if (existing >= maxPerUser)
            {
                return false;
            }
            _perUser[session.UserId] = existing + 1;
            _sessions[session.ConnectionId] = session;
            return true;
        }
    }

    public Session? Get(string connectionId) => _sessions.GetValueOrDefault(connectionId);

    /// <summary>Removes the session; null when it was already gone (removal is idempotent).</summary>
    public Session? Remove(string connectionId)
    {
        lock (_perUser)
        {
            if (!_sessions.TryRemove(connectionId, out var session))
            {
                return null;
            }
            var left = _perUser[session.UserId] - 1;
            if (left == 0)
            {
                _perUser.Remove(session.UserId);
            }
            else
            {
                _perUser[session.UserId] = left;
            }
            return session;
        }
    }

    public int UniqueUsers
    {
        get
        {
            lock (_perUser)
            {
                return _perUser.Count;
            }
        }
    }
}
