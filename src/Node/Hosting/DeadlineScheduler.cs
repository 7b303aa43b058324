using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Akka's scheduler (<c>akka.scheduler.implementation</c>) as one thread that sleeps until the earliest task is due.
/// <para>
/// Why not the library's: <c>HashedWheelTimerScheduler</c> wakes every tick (10 ms) whether anything is due or not,
/// and on .NET 6+ each tick is a <c>PeriodicTimer</c> continuation on the thread pool, so every 10 ms an idle worker
/// wakes, finds nothing, and spins before it sleeps again. That kept an idle node at 6.4 % of a core (0.5 % before
/// Akka; 2.5 % with this scheduler, PERFORMANCE.md, issue 10). A longer tick cuts the cost but makes every Akka timer
/// up to one tick late. This scheduler wakes only when a task is due, on its own
/// thread, and fires it within about a millisecond.
/// </para>
/// <para>
/// Semantics kept from the library: a task runs on the scheduler thread (a scheduled tell only enqueues), tasks due
/// at the same time run in the order they were scheduled, a cancelled task is skipped when it comes due, a repeated
/// task after a stall (a paused process) runs once and then keeps its interval from now (no burst of catch-up runs),
/// and on dispose every task still pending runs once, as the library does, so nobody waits on a timer that never fires.
/// </para>
/// </summary>
public sealed class DeadlineScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    // A cancelled task stays queued until it comes due (an actor's receive timeout is cancelled and scheduled again on
    // every message). When the queue has doubled since the last sweep, the cancelled ones are dropped: amortised O(1).
    private const int SweepFloor = 1024;

    private readonly object _gate = new();
    private readonly PriorityQueue<Scheduled, (long Due, long Order)> _queue = new();
    private readonly List<Scheduled> _due = [];
    private readonly Thread _thread;
    private readonly TimeSpan _shutdownTimeout;
    private long _order;
    private int _sweepAt = SweepFloor;
    private bool _stopping;
    private bool _stopped;

    public DeadlineScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        _shutdownTimeout = scheduler.GetTimeSpan("akka.scheduler.shutdown-timeout", TimeSpan.FromSeconds(5));
        _thread = new Thread(Run) { IsBackground = true, Name = "akka-scheduler" };
        _thread.Start();
    }

    /// <summary>Tasks waiting, cancelled ones included until they come due (for tests).</summary>
    public int Pending
    {
        get { lock (_gate) { return _queue.Count; } }
    }

    protected override DateTimeOffset TimeNow => DateTimeOffset.UtcNow;

    // Akka's own process-wide monotonic clock (internal to Akka; this obsolete provider is its public face), so a
    // deadline computed elsewhere in Akka compares with ours.
#pragma warning disable CS0618
    public override TimeSpan MonotonicClock => DateTimeOffsetNowTimeProvider.Instance.MonotonicClock;

    public override TimeSpan HighResMonotonicClock => DateTimeOffsetNowTimeProvider.Instance.HighResMonotonicClock;
#pragma warning restore CS0618

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(initialDelay, interval, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new Call(action), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Add(initialDelay, interval, new Call(action), cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Add(initialDelay, interval, action, cancelable);

    private void Add(TimeSpan delay, TimeSpan interval, IRunnable action, ICancelable? cancelable)
    {
        var task = new Scheduled(action, cancelable, interval.Ticks);
        lock (_gate)
        {
            if (_stopping)
            {
                throw new SchedulerException("cannot enqueue after timer shutdown");
            }
            Enqueue(task, Now() + delay.Ticks);
            if (_queue.Count >= _sweepAt)
            {
                Sweep();
            }
            if (_queue.TryPeek(out var first, out _) && first == task)
            {
                Monitor.Pulse(_gate); // earlier than what the thread sleeps towards
            }
        }
    }

    private void Enqueue(Scheduled task, long due) => _queue.Enqueue(task, (due, _order++));

    private void Sweep()
    {
        var live = _queue.UnorderedItems.Where(e => !e.Element.Cancelled).ToList();
        _queue.Clear();
        _queue.EnqueueRange(live);
        _sweepAt = Math.Max(SweepFloor, 2 * _queue.Count);
    }

    private static long Now() => Stopwatch.GetElapsedTime(0).Ticks;

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_stopping)
                    {
                        return;
                    }
                    if (!_queue.TryPeek(out _, out var first))
                    {
                        Monitor.Wait(_gate);
                        continue;
                    }
                    var wait = first.Due - Now();
                    if (wait > 0)
                    {
                        // Round up so a task never runs early; Monitor.Wait takes whole milliseconds.
                        Monitor.Wait(_gate, (int)Math.Min(int.MaxValue, (wait + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond));
                        continue;
                    }
                    // Everything due by now runs in this wake-up; the wait rounds up to whole milliseconds, so timers
                    // Akka started together (heartbeats, gossip, reaper) usually share one. None runs early.
                    var now = Now();
                    while (_queue.TryPeek(out _, out var next) && next.Due <= now)
                    {
                        _due.Add(_queue.Dequeue());
                    }
                    break;
                }
            }
            foreach (var task in _due)
            {
                if (task.Cancelled)
                {
                    continue;
                }
                Execute(task);
                if (task.Interval > 0 && !task.Cancelled)
                {
                    lock (_gate)
                    {
                        if (!_stopping)
                        {
                            Enqueue(task, Now() + task.Interval);
                        }
                    }
                }
            }
            _due.Clear();
        }
    }

    private void Execute(Scheduled task)
    {
        try
        {
            task.Action.Run();
        }
        catch (SchedulerException)
        {
            // a tell to an actor that is gone
        }
        catch (Exception ex)
        {
            Log.Error(ex, "Exception while executing timer task.");
        }
    }

    public void Dispose()
    {
        List<Scheduled> pending;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }
            _stopped = _stopping = true;
            Monitor.Pulse(_gate);
            pending = [];
            while (_queue.TryDequeue(out var task, out _))
            {
                pending.Add(task);
            }
        }
        if (Thread.CurrentThread != _thread && !_thread.Join(_shutdownTimeout))
        {
            Log.Warning("Failed to shutdown scheduler within {0}", _shutdownTimeout);
        }
        foreach (var task in pending.Where(t => !t.Cancelled))
        {
            Execute(task);
        }
    }

    private sealed class Scheduled(IRunnable action, ICancelable? cancelable, long interval)
    {
        public IRunnable Action { get; } = action;

        public long Interval { get; } = interval;

        public bool Cancelled => cancelable?.IsCancellationRequested ?? false;
    }

    private sealed class Tell(ICanTell receiver, object message, IActorRef sender) : IRunnable
    {
        public void Run() => receiver.Tell(message, sender);

        public void Execute() => Run();
    }

    private sealed class Call(Action action) : IRunnable
    {
        public void Run() => action();

        public void Execute() => Run();
    }
}
