using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Sessions;

/// <summary>
/// Where revocations are agreed on by every node (the node replicates them through Akka's Distributed Data).
/// </summary>
public interface IRevocationReplication
{
    /// <summary>Records that tokens of <paramref name="userId"/> issued before <paramref name="notBefore"/> are refused, on every reachable node.</summary>
    Task PublishAsync(string userId, DateTimeOffset notBefore, CancellationToken cancellationToken);
}

/// <summary>
/// "End this user's sessions" (an administrator revoking a user, or a host application whose user changed role): every
/// token of the user issued before the revocation is refused from then on, at connect (JwtBearer) on every node, and
/// every open connection that used one is sent <c>connection:closing</c> (<c>sessions_revoked</c>) and closed, on
/// whichever node it is; its resources drop it as on any disconnect (locks into their grace period). A new token issued
/// after the revocation connects normally, with whatever role it carries; the entity checks that role on the next join.
/// The state is this node's copy of a replicated map (<see cref="Apply"/>), kept as long as a token can live, and
/// written to the store (<see cref="IRevocationStore"/>) before it is answered, so a restart of every node forgets
/// nothing (<see cref="LoadAsync"/> at start-up, before the node takes connections).
/// </summary>
public sealed partial class SessionRevocations(
    ConnectionRegistry registry,
    SessionCloser closer,
    ILogger<SessionRevocations> logger,
    IRevocationStore? store = null)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _notBefore = new(StringComparer.Ordinal);

    /// <summary>Set by the node: where a new revocation is published.</summary>
    public IRevocationReplication? Replication { get; set; }

    /// <summary>The token's <c>iat</c>, if it has one.</summary>
    public static DateTimeOffset? IssuedAt(ClaimsPrincipal? user) =>
        user?.FindFirst("iat")?.Value is { } iat && long.TryParse(iat, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>Whether a token of <paramref name="userId"/> issued at <paramref name="issuedAt"/> is refused (one without iat is, once the user was revoked).</summary>
    public bool Refuses(string userId, DateTimeOffset? issuedAt) =>
        _notBefore.TryGetValue(userId, out var notBefore) && (issuedAt is not { } at || at < notBefore);

    /// <summary>Revokes the user's current tokens everywhere; returns the instant tokens must be issued at or after.</summary>
    public async Task<DateTimeOffset> RevokeAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        // iat has whole seconds, so a token stamped with this second may be older than the revocation: only tokens
        // issued from the next second on are accepted (a client that asks for a new token at once may be refused for
        // up to a second, and gets in on its next attempt).
        var notBefore = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1);
        if (store is not null)
        {
            await store.SaveAsync(userId, notBefore, cancellationToken).ConfigureAwait(false); // durable before anything says "revoked"
        }
        Apply(new Dictionary<string, DateTimeOffset> { [userId] = notBefore });
        if (Replication is { } replication)
        {
            await replication.PublishAsync(userId, notBefore, cancellationToken).ConfigureAwait(false);
        }
        return notBefore;
    }

    /// <summary>Takes revocations learned from the replicated map; closes this node's connections they revoke.</summary>
    public void Apply(IReadOnlyDictionary<string, DateTimeOffset> revocations)
    {
        ArgumentNullException.ThrowIfNull(revocations);
        foreach (var (userId, notBefore) in revocations)
        {
            var merged = _notBefore.AddOrUpdate(userId, notBefore, (_, old) => old > notBefore ? old : notBefore);
            foreach (var session in registry.All.Where(s => s.UserId == userId && (s.TokenIssuedAt is not { } at || at < merged)).ToList())
            {
                _ = CloseAsync(session);
            }
        }
    }

    /// <summary>Takes the stored revocations that can still refuse a token (at or after <paramref name="since"/>).</summary>
    public async Task<int> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (store is null)
        {
            return 0;
        }
        var stored = await store.LoadAsync(since, cancellationToken).ConfigureAwait(false);
        Apply(stored);
        return stored.Count;
    }

    /// <summary>Forgets revocations older than any token can be (<paramref name="cutoff"/>), here and in the store.</summary>
    public async Task PruneAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        Prune(cutoff);
        if (store is not null)
        {
            await store.PruneAsync(cutoff, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Forgets revocations older than any token can be (<paramref name="cutoff"/>).</summary>
    public void Prune(DateTimeOffset cutoff)
    {
        foreach (var (userId, notBefore) in _notBefore)
        {
            if (notBefore < cutoff)
            {
                _notBefore.TryRemove(new KeyValuePair<string, DateTimeOffset>(userId, notBefore));
            }
        }
    }

    private Task<bool> CloseAsync(Session session)
    {
        RevocationLog.Closing(logger, session.SessionId, session.UserId);
        return closer.CloseAsync(session, "sessions_revoked", 0);
    }

    private static partial class RevocationLog
    {
        [LoggerMessage(EventId = 3200, Level = LogLevel.Information, Message = "Session {SessionId} of user {UserId} is closed: the user's sessions were revoked.")]
        public static partial void Closing(ILogger logger, string sessionId, string userId);
    }
}
