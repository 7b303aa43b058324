namespace CollabAkka.Web.Sessions;

/// <summary>
/// Where session revocations outlive the nodes: a revoked token must stay refused after a restart of every node (the
/// replicated copy lives only in memory), until it could not be valid any more anyway. Outages throw
/// <c>StoreUnavailableException</c>.
/// </summary>
public interface IRevocationStore
{
    /// <summary>Records that tokens of <paramref name="userId"/> issued before <paramref name="notBefore"/> are refused (a later instant stored already stays).</summary>
    Task SaveAsync(string userId, DateTimeOffset notBefore, CancellationToken cancellationToken);

    /// <summary>Every revocation whose instant is at or after <paramref name="since"/>.</summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> LoadAsync(DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Deletes revocations older than <paramref name="cutoff"/> (no token issued before it can still be valid).</summary>
    Task<int> PruneAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
