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
        var lastError = (audit as BufferedAuditSink)?.LastError;
        if (lastError is not null)
        {
            data["lastError"] = lastError;
        }
        var why = lastError is null ? "" : $" Writes are failing: {lastError}";
        var result = audit.IsSaturated
            ? HealthCheckResult.Unhealthy($"Audit buffer is full ({audit.Pending}/{audit.Capacity}); new edits are refused.{why}", data: data)
            : audit.Pending * 2 >= audit.Capacity
                ? HealthCheckResult.Degraded($"Audit buffer is filling ({audit.Pending}/{audit.Capacity}).{why}", data: data)
                : lastError is not null
                    ? HealthCheckResult.Degraded($"Audit events wait for the store ({audit.Pending}/{audit.Capacity}).{why}", data: data)
                    : HealthCheckResult.Healthy("Audit buffer has room.", data);
        return Task.FromResult(result);
    }
}
