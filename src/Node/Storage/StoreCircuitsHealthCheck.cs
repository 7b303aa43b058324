using CollabAkka.Entities.Resources;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CollabAkka.Node.Storage;

/// <summary>Readiness of the circuit breakers: each breaker's state in <c>data</c>; degraded while any is open or half-open.</summary>
public sealed class StoreCircuitsHealthCheck(IStoreCircuits circuits) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var views = circuits.Circuits;
        var data = views.ToDictionary(c => c.Name, c => (object)new Dictionary<string, object?>
        {
            ["state"] = c.State,
            ["openedAt"] = c.OpenedAt,
            ["retryAt"] = c.RetryAt,
            ["lastError"] = c.LastError,
            ["opened"] = c.Opened,
        });
        var open = views.Where(c => c.State != "closed").Select(c => $"{c.Name} {c.State}").ToList();
        return Task.FromResult(views.Count == 0
            ? HealthCheckResult.Healthy("No circuit breakers (embedded store).", data)
            : open.Count == 0
                ? HealthCheckResult.Healthy("Every PostgreSQL circuit breaker is closed.", data)
                : HealthCheckResult.Degraded($"PostgreSQL circuit breakers: {string.Join(", ", open)}; writes are refused with UNAVAILABLE.", data: data));
    }
}
