using System.Threading.Channels;
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
/// never written before the updates it contains.
/// </summary>
public sealed partial class DocumentCommitter : IAsyncDisposable
{
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IDocumentStore _store;
    private readonly DocumentOptions _options;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private int _pending;

    public DocumentCommitter(IDocumentStore store, DocumentOptions options, ILogger<DocumentCommitter> logger)
    {
        _store = store;
        _options = options;
        _logger = logger;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Updates accepted and not yet durable.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public bool IsSaturated => Pending >= _options.MaxPendingCommits;

    /// <summary>The last write failure while the store is failing; null once a write succeeds.</summary>
    public string? LastError { get; private set; }

    /// <summary>Queues an update; the task completes when it is durable, or refused by the store.</summary>
    public Task<CommitOutcome> CommitAsync(DocumentUpdateRecord update)
    {
        var job = new Job(update, null);
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
        var job = new Job(null, snapshot);
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
                        appended = await _store.AppendAsync(updates, CancellationToken.None).ConfigureAwait(false);
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

    private sealed record Job(DocumentUpdateRecord? Update, DocumentSnapshot? Snapshot)
    {
        public TaskCompletionSource<CommitOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
