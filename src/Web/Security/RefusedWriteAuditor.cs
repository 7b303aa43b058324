using CollabAkka.Entities.Audit;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Security;

/// <summary>
/// Refused hub writes reach the audit trail (issue 12 item 7) as <c>WRITE_REFUSED</c>: who, which method, which
/// resource, which code. Per connection, method and code at most
/// <see cref="SecurityOptions.RefusedWritesAuditedPerWindow"/> records per <see cref="SecurityOptions.AuditWindow"/>
/// are written; the rest are counted and reported in the next record (<c>suppressed</c>) or, when the
/// connection ends, in one last record per reason, so a flood cannot fill the trail and nothing goes uncounted.
/// </summary>
public sealed class RefusedWriteAuditor(IAuditSink audit, IOptions<SecurityOptions> options)
{
    public const string EventType = "WRITE_REFUSED";

    /// <summary>Methods that change shared state.</summary>
    public static readonly IReadOnlySet<string> WriteMethods = new HashSet<string>(StringComparer.Ordinal)
    {
        MethodNames.DocUpdate, MethodNames.ResourceUpdate, MethodNames.AwarenessUpdate,
        MethodNames.LockAcquire, MethodNames.LockRelease, MethodNames.LockHeartbeat, MethodNames.LockForceRelease,
    };

    /// <summary>Codes that mean "this write was refused" (not "try again later" or "already done").</summary>
    public static readonly IReadOnlySet<string> RefusalCodes = new HashSet<string>(StringComparer.Ordinal)
    {
        ErrorCodes.PermissionDenied, ErrorCodes.InvalidUpdate, ErrorCodes.ValidationFailed, ErrorCodes.RateLimited,
        ErrorCodes.PayloadTooLarge, ErrorCodes.NotJoined, ErrorCodes.LockNotHeld, ErrorCodes.LockHeld, ErrorCodes.StaleRevision,
    };

    private readonly AuditThrottle _throttle = new(options.Value.RefusedWritesAuditedPerWindow, options.Value.AuditWindow);

    public void Refused(MemberInfo member, string method, string code, string? resourceId, DateTimeOffset now)
    {
        if (!WriteMethods.Contains(method) || !RefusalCodes.Contains(code))
        {
            return;
        }
        if (_throttle.TryPass($"{member.ConnectionId}\n{method}\n{code}", now) is not { } suppressed)
        {
            return;
        }
        audit.Record(AuditEvent.For(member, EventType, now, resourceId, details: Details(method, code, suppressed)));
    }

    /// <summary>When a connection ends: one record per reason whose refusals were left out.</summary>
    public void Ended(MemberInfo member, DateTimeOffset now)
    {
        foreach (var (key, suppressed) in _throttle.Drain(member.ConnectionId + "\n"))
        {
            var parts = key.Split('\n');
            audit.Record(AuditEvent.For(member, EventType, now, details: Details(parts[1], parts[2], suppressed)));
        }
    }

    private static Dictionary<string, object?> Details(string method, string code, int suppressed)
    {
        var details = new Dictionary<string, object?> { ["method"] = method, ["code"] = code };
        if (suppressed > 0)
        {
            details["suppressed"] = suppressed;
        }
        return details;
    }
}
