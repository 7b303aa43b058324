namespace CollabAkka.Node.Hosting;

/// <summary>Node settings (<c>Collab</c>).</summary>
public sealed class CollabOptions
{
    public const string EmbeddedProfile = "embedded";
    public const string ProductionProfile = "production";

    /// <summary><c>embedded</c> (default: one node, SQLite, dev tokens) or <c>production</c>.</summary>
    public string Profile { get; set; } = EmbeddedProfile;

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
