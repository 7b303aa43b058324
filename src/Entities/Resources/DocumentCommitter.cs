using System.Threading.Channels;
using CollabAkka.Entities.Audit;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Entities.Resources;

/// <summary>
/// Group commit of document updates for the whole node. Entities hand over an update and get a task that
/// completes once it is durable; they do not wait for it, so the next edit is applied at once. One writer
/// drains everything queued while the previous transaction was in flight, so batches form by themselves
/// (no timer window: an idle node commits a lone update immediately). A batch that fails with an outage is
/// retried until it lands; nothing is dropped. A record the store refuses (its entity was fenced by a newer
/// incarnation, or its revision exists already) is not retried: its task ends <see cref="CommitOutcome.Fenced"/>
/// and its entity stops, while the rest of the batch is written. Snapshots travel the same queue, so one is
/// never written before the updates it contains. An update's audit record (EDIT) is written in the update's own
/// transaction, so the acknowledgement waits for one write, not two (and the record exists exactly when the update does).
/// The tasks handed out complete on the writer's loop, without a hop: their only waiters are the entities' PipeTo
/// (a Tell), so nothing heavy may be chained onto them.
/// </summary>
public sealed partial class DocumentCommitter : IAsyncDisposable
{
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IDocumentStore _store;
    private readonly DocumentOptions _options;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly Action<int>? _audited;
    private int _pending;

    /// <param name="audited">Told how many audit records each write made durable (the audit trail's counters).</param>
    public DocumentCommitter(IDocumentStore store, DocumentOptions options, ILogger<DocumentCommitter> logger, Action<int>? audited = null)
    {
        _store = store;
        _options = options;
        _logger = logger;
        _audited = audited;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Updates accepted and not yet durable.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public bool IsSaturated => Pending >= _options.MaxPendingCommits;

    /// <summary>The last write failure while the store is failing; null once a write succeeds.</summary>
    public string? LastError { get; private set; }

    /// <summary>Queues an update (with its audit record, written in the same transaction); the task completes when it is durable, or refused by the store.</summary>
    public Task<CommitOutcome> CommitAsync(DocumentUpdateRecord update, AuditEvent? audit = null)
    {
        var job = new Job(update, audit, null);
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _pending);
            return Task.FromResult(CommitOutcome.Failed); // the node is shutting down
        }
        return job.Done.Task;
    }

    /// <summary>Queues a snapshot behind every update queued so far.</summary>
    public Task<CommitOutcome> SnapshotAsync(DocumentSnapshot snapshot)
    {
        var job = new Job(null, null, snapshot);
        return _queue.Writer.TryWrite(job) ? job.Done.Task : Task.FromResult(CommitOutcome.Failed);
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Job>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _options.MaxCommitBatch && reader.TryRead(out var job))
            {
                batch.Add(job);
                if (job.Snapshot is not null)
                {
                    break; // updates before it go first, in this batch
                }
            }
            var jobs = batch.Where(j => j.Update is not null).ToList();
            var updates = jobs.Select(j => j.Update!).ToList();
            var audit = jobs.Any(j => j.Audit is not null) ? jobs.Select(j => j.Audit).ToList() : null;
            var snapshot = batch[^1].Snapshot;
            var delay = TimeSpan.FromMilliseconds(100);
            AppendResult appended = AppendResult.AllWritten;
            var snapshotWrite = StoreWrite.Written;
            while (true)
            {
                try
                {
                    if (updates.Count > 0)
                    {
                        appended = await _store.AppendAsync(updates, audit, CancellationToken.None).ConfigureAwait(false);
                    }
                    if (snapshot is not null)
                    {
                        snapshotWrite = await _store.SaveSnapshotAsync(snapshot, CancellationToken.None).ConfigureAwait(false);
                    }
                    LastError = null;
                    break;
                }
#pragma warning disable CA1031 // Retried until it lands: acknowledged edits must not be lost.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LastError = ex.Message;
                    CommitLog.CommitFailed(_logger, ex, updates.Count, Pending);
                    await Task.Delay(delay).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
            Interlocked.Add(ref _pending, -updates.Count);
            if (audit is not null && _audited is not null)
            {
                var refused = appended.Refused.Count(i => audit[i] is not null);
                _audited(audit.Count(a => a is not null) - refused);
            }
            foreach (var index in appended.Refused)
            {
                jobs[index].Done.TrySetResult(CommitOutcome.Fenced);
                CommitLog.Refused(_logger, jobs[index].Update!.ResourceId, jobs[index].Update!.Revision, jobs[index].Update!.Epoch);
            }
            foreach (var job in batch)
            {
                job.Done.TrySetResult(job.Snapshot is not null && snapshotWrite == StoreWrite.Fenced ? CommitOutcome.Fenced : CommitOutcome.Durable);
            }
            batch.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private sealed record Job(DocumentUpdateRecord? Update, AuditEvent? Audit, DocumentSnapshot? Snapshot)
    {
        // Continuations run on the writer's loop (no RunContinuationsAsynchronously): see the class summary.
        public TaskCompletionSource<CommitOutcome> Done { get; } = new();
    }

    private static partial class CommitLog
    {
        [LoggerMessage(EventId = 2100, Level = LogLevel.Warning, Message = "Committing {Count} document updates failed; retrying. {Pending} wait.")]
        public static partial void CommitFailed(ILogger logger, Exception exception, int count, int pending);

        [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
            Message = "The store refused update {Resource}@{Revision} (epoch {Epoch}): a newer incarnation owns it or the revision exists; its entity stops.")]
        public static partial void Refused(ILogger logger, string resource, long revision, long epoch);
    }
}

/// <summary>How a queued commit ended.</summary>
public enum CommitOutcome
{
    /// <summary>Written and durable.</summary>
    Durable,

    /// <summary>Refused by the store (stale epoch or existing revision); nothing was written. The writer must stop.</summary>
    Fenced,

    /// <summary>Not written (the node is shutting down, or the acknowledgement's audit record failed).</summary>
    Failed,
}
