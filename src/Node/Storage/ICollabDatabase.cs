namespace CollabAkka.Node.Storage;

/// <summary>The database behind the stores (SQLite file or PostgreSQL): schema migrations and a readiness probe.</summary>
public interface ICollabDatabase
{
    /// <summary>What and where, for /ready and logs (never a password).</summary>
    string Description { get; }

    /// <summary>Applies the migrations the database lacks. Idempotent and safe when several nodes start at once.</summary>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>One round trip; throws <see cref="Entities.Resources.StoreUnavailableException"/> when the database cannot answer.</summary>
    Task PingAsync(CancellationToken cancellationToken = default);
}
