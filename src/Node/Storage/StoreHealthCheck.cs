using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CollabAkka.Node.Storage;

/// <summary>Readiness of the store: a round trip to the database, with the reason when it fails.</summary>
public sealed class StoreHealthCheck(ICollabDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await database.PingAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy(database.Description);
        }
#pragma warning disable CA1031 // Any failure means "not ready", with its reason.
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Unhealthy($"{database.Description}: {ex.Message}");
        }
    }
}
