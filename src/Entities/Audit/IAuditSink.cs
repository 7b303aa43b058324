namespace CollabAkka.Entities.Audit;

/// <summary>
/// Where every audited action goes. <see cref="Record"/> never blocks and never drops: events wait in a
/// buffer until the store has them. When the buffer passes its configured capacity the sink reports
/// <see cref="IsSaturated"/>, and callers refuse new edits (UNAVAILABLE) instead of losing records.
/// </summary>
public interface IAuditSink
{
    void Record(AuditEvent auditEvent);

    /// <summary>Events recorded but not yet durable.</summary>
    int Pending { get; }

    /// <summary>The configured soft bound of <see cref="Pending"/>.</summary>
    int Capacity { get; }

    bool IsSaturated => Pending >= Capacity;

    /// <summary>Waits until every event recorded so far is durable (or the token fires).</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}

/// <summary>Durable storage of audit events (SQLite embedded, PostgreSQL in production).</summary>
public interface IAuditStore
{
    Task AppendAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken);

    /// <summary>Matching events in id order, at most <see cref="AuditQuery.Limit"/>, after <see cref="AuditQuery.AfterId"/>.</summary>
    Task<IReadOnlyList<StoredAuditEvent>> QueryAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes at most <paramref name="batchSize"/> events with a timestamp before <paramref name="olderThan"/>
    /// (oldest ids first) and returns how many it deleted; retention calls it until it returns less than the batch.
    /// </summary>
    Task<int> PurgeAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken);
}

/// <summary>An audit event as stored, with its store-assigned id (the keyset for paging).</summary>
public sealed record StoredAuditEvent(long Id, AuditEvent Event);

/// <summary>Filters for reading the audit trail; keyset paging by id.</summary>
public sealed record AuditQuery
{
    public string? UserId { get; init; }
    public string? ResourceId { get; init; }
    public string? EventType { get; init; }
    public string? CorrelationId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public long? AfterId { get; init; }
    public int Limit { get; init; } = 100;
}
