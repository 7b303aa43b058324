using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CollabAkka.Node.Storage;

/// <summary>Readiness of the embedded store: a round trip to the file.</summary>
public sealed class SqliteHealthCheck(SqliteDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM schema_migrations";
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"SQLite {database.Path}");
        }
#pragma warning disable CA1031 // Any failure means "not ready", with its reason.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Unhealthy($"SQLite {database.Path}: {ex.Message}");
        }
    }
}
