namespace CollabAkka.Web.Http;

/// <summary>HTTP API settings (<c>Collab:Http</c>).</summary>
public sealed class CollabHttpOptions
{
    /// <summary>Roles allowed to read entity state over HTTP.</summary>
    public string[] OperatorRoles { get; set; } = ["admin", "auditor"];

    /// <summary>Roles allowed to read document content at a revision and its history.</summary>
    public string[] HistoryRoles { get; set; } = ["admin", "auditor", "doctor", "nurse"];

    /// <summary>
    /// Kestrel's <c>UnsafePreferInlineScheduling</c>: a connection's pipes run their continuations on the thread that
    /// completed them instead of queueing each to the thread pool (a frame read goes straight into the hub; an event
    /// written to a connection goes straight to its socket). Measured: about a fifth less CPU per delivered edit
    /// (docs/PERFORMANCE.md). Safe for us because nothing on a connection's path blocks a thread; turn it off to
    /// compare, or if a plugged-in middleware does blocking I/O.
    /// </summary>
    public bool InlineScheduling { get; set; } = true;
}
