namespace CollabAkka.Node.Hosting;

/// <summary>Node settings (<c>Collab</c>).</summary>
public sealed class CollabOptions
{
    public const string EmbeddedProfile = "embedded";
    public const string ProductionProfile = "production";

    /// <summary>
    /// <c>production</c> (the default: tokens from the configured public key only) or <c>embedded</c> (dev tokens and
    /// <c>/demo</c> on, for <c>./run.sh</c> and tests; refused on a non-loopback address, see docs/SECURITY.md).
    /// </summary>
    public string Profile { get; set; } = ProductionProfile;

    /// <summary>
    /// This node's id (audit records, connection addressing, its cluster member's role <c>node:&lt;id&gt;</c>). Default:
    /// generated once and kept in <c>DataDir/node-id</c>, so it is stable across restarts of the same node.
    /// </summary>
    public string? NodeId { get; set; }

    /// <summary>Where the SQLite file, the dev signing key and log files live.</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>Path of the resource configuration; relative paths are tried from the working directory, then the app folder.</summary>
    public string ResourcesFile { get; set; } = "config/resources.yml";

    /// <summary><c>sqlite</c> (default) or <c>postgres</c> (later).</summary>
    public string Store { get; set; } = "sqlite";

    /// <summary>Write NDJSON logs to the console.</summary>
    public bool ConsoleLogs { get; set; } = true;
}
