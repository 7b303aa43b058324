namespace CollabAkka.Entities.Resources;

/// <summary>
/// The circuit breakers in front of the store (PostgreSQL: one per call path). The hub asks before a write so
/// that, while a breaker is open, writes are refused at once with UNAVAILABLE instead of queueing behind a dead
/// database; presence and awareness never touch the store and keep working.
/// </summary>
public interface IStoreCircuits
{
    /// <summary>Every breaker with its state, for /ready and /metrics.</summary>
    IReadOnlyList<StoreCircuitView> Circuits { get; }

    /// <summary>True (with a sentence naming the breaker and the setting) when document writes would be refused by an open breaker.</summary>
    bool RefusesWrites(out string reason);
}

/// <summary>One breaker: <c>closed</c>, <c>open</c> or <c>half-open</c>; when it opened, why, and how often.</summary>
public sealed record StoreCircuitView(string Name, string State, DateTimeOffset? OpenedAt, DateTimeOffset? RetryAt, string? LastError, long Opened, long HalfOpened, long Closed);

/// <summary>The SQLite store has no breakers: it is a local file, not a network dependency.</summary>
public sealed class NoStoreCircuits : IStoreCircuits
{
    public IReadOnlyList<StoreCircuitView> Circuits => [];

    public bool RefusesWrites(out string reason)
    {
        reason = "";
        return false;
    }
}
