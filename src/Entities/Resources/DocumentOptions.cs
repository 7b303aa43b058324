namespace CollabAkka.Entities.Resources;

/// <summary>Co-editing settings (<c>Collab:Documents</c>).</summary>
public sealed class DocumentOptions
{
    public const int DefaultMaxUpdateBytes = 256 * 1024;

    /// <summary>Largest accepted Y.js update (decoded bytes); larger ones get PAYLOAD_TOO_LARGE.</summary>
    public int MaxUpdateBytes { get; set; } = DefaultMaxUpdateBytes;

    public const int DefaultMaxDocumentBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Largest document (its merged Y.js state, encoded): an edit that would take it past this gets PAYLOAD_TOO_LARGE and
    /// changes nothing. A document must fit in one message between nodes (<c>Collab:Cluster:MaximumFrameSize</c>), or
    /// the nodes that do not own it could no longer sync or read it.
    /// </summary>
    public int MaxDocumentBytes { get; set; } = DefaultMaxDocumentBytes;

    /// <summary>Largest accepted awareness update (decoded bytes).</summary>
    public int MaxAwarenessBytes { get; set; } = 32 * 1024;

    /// <summary>Largest awareness state of one client id (UTF-8 bytes of its JSON).</summary>
    public int MaxAwarenessStateBytes { get; set; } = 4 * 1024;

    /// <summary>Awareness client ids one connection may announce in one resource.</summary>
    public int MaxAwarenessClientsPerConnection { get; set; } = 4;

    /// <summary>Awareness client ids one resource keeps for newcomers.</summary>
    public int MaxAwarenessClientsPerRoom { get; set; } = 256;

    /// <summary>Largest awareness snapshot a newcomer receives; entries past it are left out.</summary>
    public int MaxAwarenessSnapshotBytes { get; set; } = 256 * 1024;

    /// <summary>A snapshot of the merged state is stored every this many revisions.</summary>
    public int SnapshotEvery { get; set; } = 200;

    /// <summary>Updates accepted but not yet durable, per node; past it, new edits get UNAVAILABLE.</summary>
    public int MaxPendingCommits { get; set; } = 10_000;

    /// <summary>
    /// Deepest nesting of shared types and values in a document (a root is 1); deeper updates get INVALID_UPDATE.
    /// JSON readers and writers carrying content allow this plus <see cref="Yjs.YLimits.EnvelopeDepth"/>.
    /// </summary>
    public int MaxNestingDepth { get; set; } = Yjs.YLimits.DefaultMaxDepth;

    /// <summary>Most updates written in one store transaction.</summary>
    public int MaxCommitBatch { get; set; } = 500;

    /// <summary>The largest payload one message between nodes carries: a whole document or an awareness snapshot.</summary>
    public int LargestPayloadBytes => Math.Max(Math.Max(MaxDocumentBytes, MaxUpdateBytes), MaxAwarenessSnapshotBytes);

    /// <summary>The size limits' own consistency; the node refuses to start when one fails.</summary>
    public IEnumerable<string> Problems()
    {
        if (MaxUpdateBytes < 1 || MaxAwarenessBytes < 1 || MaxAwarenessStateBytes < 1 || MaxAwarenessSnapshotBytes < 1)
        {
            yield return "Collab:Documents: MaxUpdateBytes, MaxAwarenessBytes, MaxAwarenessStateBytes and MaxAwarenessSnapshotBytes must be > 0.";
        }
        if (MaxDocumentBytes < MaxUpdateBytes)
        {
            yield return $"Collab:Documents:MaxDocumentBytes ({MaxDocumentBytes}) must be at least MaxUpdateBytes ({MaxUpdateBytes}): one update must fit in a document.";
        }
    }
}
