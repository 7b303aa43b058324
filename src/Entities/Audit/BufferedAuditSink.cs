using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Audit;

/// <summary>Settings of the audit buffer (<c>Collab:Audit</c>).</summary>
public sealed class AuditOptions
{
    public const int DefaultBufferCapacity = 10_000;
    public const int DefaultBatchSize = 500;

    /// <summary>Soft bound of events waiting for the store; past it, new edits are refused with UNAVAILABLE.</summary>
    public int BufferCapacity { get; set; } = DefaultBufferCapacity;

    /// <summary>Most events written in one store call.</summary>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>Wait before retrying a failed write; doubles (1, 2, 4, 8 … s, the specification's backoff) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between retries of a failed write.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the writer lets events gather after the first one arrives, so a trickle (one or two events per
    /// user action) becomes one transaction instead of many. Audit writes are off every acknowledgement path,
    /// so this delays only when a record becomes durable, never an answer. Zero writes at once.
    /// </summary>
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How long disposal waits for the buffer to drain. Past it (the store is down at shutdown) the remaining events
    /// are written to the node's log, one NDJSON record each, instead of holding the process forever.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Batches audit events off the hot path and writes them to an <see cref="IAuditStore"/>.
/// A failed batch is retried until it lands: events are never dropped, only delayed. The channel is
/// unbounded on purpose (a disconnect must be recorded even when the store is down); the soft
/// <see cref="AuditOptions.BufferCapacity"/> is what callers use to shed new work instead.
/// Fill, writes and failures are published on the <see cref="MeterName"/> meter for /metrics.
/// </summary>
public sealed partial class BufferedAuditSink : IAuditSink, IAsyncDisposable
{
    public const string MeterName = "CollabAkka.Audit";

    private readonly Channel<AuditEvent> _channel = Channel.CreateUnbounded<AuditEvent>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly IAuditStore _store;
    private readonly AuditOptions _options;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly object _flushGate = new();
    private long _recorded;
    private long _written;
    private int _pending;
    private TaskCompletionSource _progress = NewProgress();
    private readonly Meter _meter;
    private readonly Counter<long> _failures;
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="meterFactory">Scopes the meter to one node's services (several nodes may share a test process).</param>
    public BufferedAuditSink(IAuditStore store, AuditOptions options, ILogger<BufferedAuditSink> logger, IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _store = store;
        _options = options;
        _logger = logger;
        _meter.CreateObservableGauge("collab_audit_buffer_pending", () => Pending, "{event}", "Audit events recorded but not yet durable.");
        _meter.CreateObservableGauge("collab_audit_buffer_capacity", () => Capacity, "{event}", "Soft bound of the audit buffer (Collab:Audit:BufferCapacity).");
        _meter.CreateObservableGauge("collab_audit_buffer_fill_ratio", () => Capacity == 0 ? 1.0 : (double)Pending / Capacity, null, "Pending / capacity; at 1 new edits are refused.");
        _meter.CreateObservableCounter("collab_audit_events_written_total", () => Interlocked.Read(ref _written), "{event}", "Audit events made durable.");
        _failures = _meter.CreateCounter<long>("collab_audit_write_failures_total", "{batch}", "Failed audit batch writes (each is retried).");
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Events made durable since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    public int Pending => Volatile.Read(ref _pending);

    public int Capacity => _options.BufferCapacity;

    /// <summary>The last write failure, while the store is failing; null once a write succeeds.</summary>
    public string? LastError { get; private set; }

    public void Record(AuditEvent auditEvent) => Enqueue(auditEvent);

    /// <summary>
    /// Counts records another writer made durable in its own transaction (the document committer writes each EDIT with
    /// its update), so the trail's counters and <c>collab_audit_events_written_total</c> include them.
    /// </summary>
    public void CountWrittenElsewhere(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _recorded, count);
            Interlocked.Add(ref _written, count);
        }
    }

    private bool Enqueue(AuditEvent auditEvent)
    {
        Interlocked.Increment(ref _pending);
        Interlocked.Increment(ref _recorded);
        if (_channel.Writer.TryWrite(auditEvent))
        {
            return true;
        }
        // Only after disposal; keep the count honest.
        Interlocked.Decrement(ref _pending);
        Interlocked.Decrement(ref _recorded);
        AuditLog.RecordedAfterShutdown(_logger, auditEvent.EventType);
        return false;
    }

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var target = Interlocked.Read(ref _recorded);
        while (Interlocked.Read(ref _written) < target)
        {
            Task progress;
            lock (_flushGate)
            {
                progress = _progress.Task;
            }
            if (Interlocked.Read(ref _written) >= target)
            {
                break;
            }
            await progress.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<AuditEvent>(_options.BatchSize);
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_options.BatchLinger > TimeSpan.Zero && Pending < _options.BatchSize)
            {
                await Task.Delay(_options.BatchLinger).ConfigureAwait(false);
            }
            while (batch.Count < _options.BatchSize && reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            var delay = _options.RetryDelay;
            while (true)
            {
                try
                {
                    await _store.AppendAsync(batch, CancellationToken.None).ConfigureAwait(false);
                    LastError = null;
                    break;
                }
#pragma warning disable CA1031 // Any store failure is retried; the events must not be lost.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LastError = ex.Message;
                    _failures.Add(1);
                    AuditLog.WriteFailed(_logger, ex, batch.Count, Pending);
                    if (!_stopping.IsCancellationRequested)
                    {
                        try
                        {
                            await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                        }
                    }
                    if (_stopping.IsCancellationRequested)
                    {
                        Abandon(batch);
                        return;
                    }
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                }
            }
            Interlocked.Add(ref _pending, -batch.Count);
            Interlocked.Add(ref _written, batch.Count);
            batch.Clear();
            TaskCompletionSource done;
            lock (_flushGate)
            {
                done = _progress;
                _progress = NewProgress();
            }
            done.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(_options.ShutdownTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _writer.ConfigureAwait(false);
        }
        _stopping.Dispose();
        _meter.Dispose();
    }

    // Shutdown with the store down: the log (NDJSON on disk) is the last durable place these events can go.
    private void Abandon(List<AuditEvent> batch)
    {
        var left = new List<AuditEvent>(batch);
        while (_channel.Reader.TryRead(out var item))
        {
            left.Add(item);
        }
        AuditLog.Abandoned(_logger, left.Count, LastError);
        foreach (var e in left)
        {
            AuditLog.Unwritten(_logger, e.EventType, e.Timestamp, e.UserId, e.ResourceId, e.SessionId, e.NodeId, e.Ip, e.UserAgent, e.CorrelationId,
                e.Details is null ? null : System.Text.Json.JsonSerializer.Serialize(e.Details));
        }
        Interlocked.Add(ref _pending, -left.Count);
    }

    private static TaskCompletionSource NewProgress() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static partial class AuditLog
    {
        [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "Audit write of {Count} events failed; retrying. {Pending} events wait.")]
        public static partial void WriteFailed(ILogger logger, Exception exception, int count, int pending);

        [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Audit event {EventType} recorded after shutdown; not written.")]
        public static partial void RecordedAfterShutdown(ILogger logger, string eventType);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Critical,
            Message = "Shutting down with {Count} audit events the store did not take ({LastError}); each follows as an event 1103 log record (Collab:Audit:ShutdownTimeout).")]
        public static partial void Abandoned(ILogger logger, int count, string? lastError);

        [LoggerMessage(EventId = 1103, Level = LogLevel.Critical,
            Message = "Unwritten audit event {EventType} at {Timestamp}: user {UserId}, resource {ResourceId}, session {SessionId}, node {NodeId}, ip {Ip}, user agent {UserAgent}, correlation {CorrelationId}, details {Details}")]
        public static partial void Unwritten(ILogger logger, string eventType, DateTimeOffset timestamp, string? userId, string? resourceId,
            string? sessionId, string? nodeId, string? ip, string? userAgent, string? correlationId, string? details);
    }
}
