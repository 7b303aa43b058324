using CollabAkka.Messages;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Web.Sessions;

/// <summary>One live hub connection: who, from where, since when, and which roots it joined.</summary>
public sealed class Session
{
    private long _lastActivityTicks;
    private readonly HashSet<string> _roots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JoinMode> _joined = new(StringComparer.Ordinal);
    private double _tokens;
    private long _tokensAtTicks;

    public Session(MemberInfo member, string transport, DateTimeOffset connectedAt, Action abort, DateTimeOffset? tokenIssuedAt = null)
    {
        Member = member;
        TokenIssuedAt = tokenIssuedAt;
        Transport = transport;
        ConnectedAt = connectedAt;
        Abort = abort;
        _lastActivityTicks = connectedAt.UtcTicks;
        _tokensAtTicks = connectedAt.UtcTicks;
        _tokens = double.NaN;
    }

    public MemberInfo Member { get; }
    public string ConnectionId => Member.ConnectionId;
    public string SessionId => Member.SessionId;
    public string UserId => Member.UserId;
    public string Transport { get; }
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>When the connection's token was issued (its <c>iat</c>), if it says; revocations compare against it.</summary>
    public DateTimeOffset? TokenIssuedAt { get; }

    /// <summary>Closes the underlying connection.</summary>
    public Action Abort { get; }

    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the session has ended (<see cref="SessionLifecycle"/>), however it ended.</summary>
    public Task Ended => _ended.Task;

    internal void MarkEnded() => _ended.TrySetResult();

    private int _closing;

    /// <summary>True for the first caller only: the one that closes this session on purpose (<see cref="SessionCloser"/>).</summary>
    internal bool TryBeginClosing() => Interlocked.Exchange(ref _closing, 1) == 0;

    public DateTimeOffset LastActivity => new(Interlocked.Read(ref _lastActivityTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastActivityTicks, now.UtcTicks);

    /// <summary>The roots this connection joined something in (to tell them when it goes).</summary>
    public string[] Roots
    {
        get
        {
            lock (_roots)
            {
                return [.. _roots];
            }
        }
    }

    public void AddRoot(string root)
    {
        lock (_roots)
        {
            _roots.Add(root);
        }
    }

    /// <summary>Token bucket: true when one more invocation fits the configured rate.</summary>
    /// <summary>Records a successful join (with the mode asked for), so it can be re-registered if its entity moves.</summary>
    public void Joined(ResourceId resource, JoinMode requested)
    {
        lock (_roots)
        {
            _joined[resource.Value] = requested;
        }
    }

    public void Left(ResourceId resource)
    {
        lock (_roots)
        {
            _joined.Remove(resource.Value);
        }
    }

    /// <summary>The mode this connection asked for when it joined <paramref name="resource"/>; null when it has not joined it.</summary>
    public JoinMode? JoinedMode(ResourceId resource)
    {
        lock (_roots)
        {
            return _joined.TryGetValue(resource.Value, out var mode) ? mode : null;
        }
    }

    /// <summary>The resources of <paramref name="root"/> this connection joined, with the modes it asked for.</summary>
    public IReadOnlyList<(ResourceId Resource, JoinMode Mode)> JoinedUnder(string root)
    {
        lock (_roots)
        {
            return [.. _joined.Where(j => StoreRoot(j.Key) == root).Select(j => (ResourceId.Parse(j.Key), j.Value))];
        }
    }

    private static string StoreRoot(string id) => id.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0 ? id[..slash] : id;

    public bool TryConsumeInvocation(DateTimeOffset now, double perSecond, int burst)
    {
        lock (_roots)
        {
            if (double.IsNaN(_tokens))
            {
                _tokens = burst;
            }
            var elapsed = (now.UtcTicks - _tokensAtTicks) / (double)TimeSpan.TicksPerSecond;
            _tokensAtTicks = now.UtcTicks;
            _tokens = Math.Min(burst, _tokens + Math.Max(0, elapsed) * perSecond);
            if (_tokens < 1)
            {
                return false;
            }
            _tokens -= 1;
            return true;
        }
    }
}
