using System.Globalization;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Storage;

/// <summary>Audit retention (<c>Collab:Audit:Retention</c>).</summary>
public sealed class AuditRetentionOptions
{
    /// <summary>Ten years, counting leap days: nothing younger is ever deleted.</summary>
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromDays(3653);
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromHours(24);
    public const int DefaultBatchSize = 10_000;

    /// <summary>Events older than this are purged.</summary>
    public TimeSpan Period { get; set; } = DefaultPeriod;

    /// <summary>How often the purge runs (first run one minute after start).</summary>
    public TimeSpan Interval { get; set; } = DefaultInterval;

    /// <summary>Rows deleted per statement, so a large purge never holds long locks.</summary>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>Turn the purge job off (e.g. when an external archive job owns retention).</summary>
    public bool Enabled { get; set; } = true;

    public void Validate()
    {
        if (Period < TimeSpan.FromDays(1) || Interval < TimeSpan.FromSeconds(1) || BatchSize < 1)
        {
            throw new OptionsValidationException("Collab:Audit:Retention", typeof(AuditRetentionOptions),
                ["Collab:Audit:Retention: Period must be at least 1 day, Interval at least 1 second and BatchSize at least 1."]);
        }
    }
}

/// <summary>What one purge did.</summary>
public sealed record AuditPurgeResult(DateTimeOffset Cutoff, long Deleted, int Batches);

/// <summary>
/// Deletes audit events older than the retention period, in batches, and records what it purged as an
/// <c>AUDIT_PURGED</c> event (cutoff, rows, batches), which itself is kept for the full period.
/// A store outage skips the run; the next one catches up.
/// </summary>
public sealed partial class AuditRetentionService(
    IAuditStore store,
    IAuditSink audit,
    AuditRetentionOptions options,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    NodeIdentity node,
    ILogger<AuditRetentionService> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRunDelay = TimeSpan.FromMinutes(1);

    public async Task<AuditPurgeResult> PurgeOnceAsync(CancellationToken cancellationToken = default)
    {
        var cutoff = time.GetUtcNow() - options.Period;
        long deleted = 0;
        var batches = 0;
        while (true)
        {
            var n = await store.PurgeAsync(cutoff, options.BatchSize, cancellationToken).ConfigureAwait(false);
            batches++;
            deleted += n;
            if (n < options.BatchSize)
            {
                break;
            }
        }
        RetentionLog.Purged(logger, deleted, cutoff, batches);
        if (deleted > 0)
        {
            audit.Record(new AuditEvent
            {
                EventType = AuditEventTypes.AuditPurged,
                Timestamp = time.GetUtcNow(),
                NodeId = node.NodeId,
                Details = new Dictionary<string, object?>
                {
                    ["cutoff"] = cutoff.ToString("O", CultureInfo.InvariantCulture),
                    ["deleted"] = deleted,
                    ["batches"] = batches,
                    ["retentionDays"] = options.Period.TotalDays,
                },
            });
        }
        return new AuditPurgeResult(cutoff, deleted, batches);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }
        try
        {
            await Task.Delay(FirstRunDelay, time, stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await PurgeOnceAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (StoreUnavailableException ex)
                {
                    RetentionLog.PurgeFailed(logger, ex);
                }
                await Task.Delay(options.Interval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class RetentionLog
    {
        [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Audit retention purged {Deleted} events older than {Cutoff} in {Batches} batches.")]
        public static partial void Purged(ILogger logger, long deleted, DateTimeOffset cutoff, int batches);

        [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Audit retention could not reach the store; the next run catches up.")]
        public static partial void PurgeFailed(ILogger logger, Exception exception);
    }
}
