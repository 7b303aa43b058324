using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Storage;

/// <summary>
/// PostgreSQL store settings (<c>Collab:Postgres</c>); the connection string itself is <c>ConnectionStrings:Collab</c>.
/// </summary>
public sealed partial class PostgresStoreOptions
{
    public const string DefaultSchema = "public";
    public const int DefaultConnectTimeoutSeconds = 5;
    public const int DefaultCommandTimeoutSeconds = 30;

    /// <summary>Npgsql connection string (<c>ConnectionStrings:Collab</c>).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Schema holding the tables (created by the migrations); one per tenant or test node.</summary>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>How long opening a connection may take before the store answers UNAVAILABLE.</summary>
    public int ConnectTimeoutSeconds { get; set; } = DefaultConnectTimeoutSeconds;

    /// <summary>How long one statement may run before the store answers UNAVAILABLE.</summary>
    public int CommandTimeoutSeconds { get; set; } = DefaultCommandTimeoutSeconds;

    /// <summary>Throws with the setting to change when the options cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw Invalid(
                "Collab:Store is 'postgres' but ConnectionStrings:Collab is empty; set it (e.g. ConnectionStrings__Collab=\"Host=...;Username=...;Password=...;Database=...\").");
        }
        if (!SchemaName().IsMatch(Schema))
        {
            throw Invalid($"Collab:Postgres:Schema '{Schema}' must be 1-63 of a-z, 0-9 and '_', starting with a letter or '_'.");
        }
        if (ConnectTimeoutSeconds < 1 || CommandTimeoutSeconds < 1)
        {
            throw Invalid("Collab:Postgres:ConnectTimeoutSeconds and CommandTimeoutSeconds must be at least 1.");
        }
    }

    private static OptionsValidationException Invalid(string message) =>
        new("Collab:Postgres", typeof(PostgresStoreOptions), [message]);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}
