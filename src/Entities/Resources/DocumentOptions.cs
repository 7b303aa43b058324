namespace CollabAkka.Entities.Resources;

/// <summary>Co-editing settings (<c>Collab:Documents</c>).</summary>
public sealed class DocumentOptions
{
    public const int DefaultMaxUpdateBytes = 256 * 1024;

    /// <summary>Largest accepted Y.js update (decoded bytes); larger ones get PAYLOAD_TOO_LARGE.</summary>
    public int MaxUpdateBytes { get; set; } = DefaultMaxUpdateBytes;

    /// <summary>Largest accepted awareness update (decoded bytes).</summary>
    public int MaxAwarenessBytes { get; set; } = 32 * 1024;

    /// <summary>A snapshot of the merged state is stored every this many revisions.</summary>
    public int SnapshotEvery { get; set; } = 200;

    /// <summary>Updates accepted but not yet durable, per node; past it, new edits get UNAVAILABLE.</summary>
    public int MaxPendingCommits { get; set; } = 10_000;

    /// <summary>Most updates written in one store transaction.</summary>
    public int MaxCommitBatch { get; set; } = 500;
}
