using CollabAkka.Entities.Audit;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CollabAkka.Web.Http;

/// <summary>Readiness of the audit trail: degraded past half of the buffer, unhealthy when saturated.</summary>
public sealed class AuditBufferHealthCheck(IAuditSink audit) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["pending"] = audit.Pending,
            ["capacity"] = audit.Capacity,
            ["fill"] = audit.Capacity == 0 ? 1.0 : Math.Round((double)audit.Pending / audit.Capacity, 4),
        };
        var result = audit.IsSaturated
            ? HealthCheckResult.Unhealthy($"Audit buffer is full ({audit.Pending}/{audit.Capacity}); new edits are refused.", data: data)
            : audit.Pending * 2 >= audit.Capacity
                ? HealthCheckResult.Degraded($"Audit buffer is filling ({audit.Pending}/{audit.Capacity}).", data: data)
                : HealthCheckResult.Healthy("Audit buffer has room.", data);
        return Task.FromResult(result);
    }
}
