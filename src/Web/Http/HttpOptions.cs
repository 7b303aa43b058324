namespace CollabAkka.Web.Http;

/// <summary>HTTP API settings (<c>Collab:Http</c>).</summary>
public sealed class CollabHttpOptions
{
    /// <summary>Roles allowed to read entity state over HTTP.</summary>
    public string[] OperatorRoles { get; set; } = ["admin", "auditor"];

    /// <summary>Roles allowed to read document content at a revision and its history.</summary>
    public string[] HistoryRoles { get; set; } = ["admin", "auditor", "doctor", "nurse"];
}
