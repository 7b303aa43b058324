using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using CollabAkka.Node.Hosting;

namespace CollabAkka.Cluster.Tests;

/// <summary>
/// Our Akka scheduler (<see cref="DeadlineScheduler"/>) on its own: when it runs a task, in which order, what a
/// cancellation and a dispose do. Every node of every other suite runs on it, so Akka's timers (heartbeats, gossip,
/// sharding retries, coordinated shutdown) are exercised there.
/// </summary>
public sealed class DeadlineSchedulerTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly DeadlineScheduler _scheduler = new(ConfigurationFactory.Empty, NoLogger.Instance);

    private IScheduler Scheduler => _scheduler;

    public void Dispose() => _scheduler.Dispose();

    [Fact]
    public async Task AScheduledTellArrivesAfterItsDelayAndNotBefore()
    {
        var received = new Receiver();
        var start = Stopwatch.GetTimestamp();
        Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(80), received, "hello", ActorRefs.NoSender);

        var message = await received.Next.WaitAsync(Patience);

        Assert.Equal("hello", message);
        Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(80), $"ran after {Stopwatch.GetElapsedTime(start).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task TasksDueTogetherRunInTheOrderTheyWereScheduled()
    {
        var order = new ConcurrentQueue<int>();
        var last = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 200; i++)
        {
            var n = i;
            Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(30), () =>
            {
                order.Enqueue(n);
                if (n == 199)
                {
                    last.SetResult();
                }
            });
        }

        await last.Task.WaitAsync(Patience);

        Assert.Equal(Enumerable.Range(0, 200), order);
    }

    [Fact]
    public async Task AnEarlierTaskScheduledWhileTheThreadSleepsTowardsALaterOneRunsOnTime()
    {
        var late = false;
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMinutes(10), () => late = true);
        var early = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = Stopwatch.GetTimestamp();
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => early.SetResult(Stopwatch.GetElapsedTime(start)));

        var after = await early.Task.WaitAsync(Patience);

        Assert.InRange(after, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(5));
        Assert.False(late);
    }

    [Fact]
    public async Task ACancelledTaskDoesNotRun()
    {
        var ran = false;
        var cancel = new Cancelable(Scheduler);
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => ran = true, cancel);
        cancel.Cancel();
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(40), after.SetResult);

        await after.Task.WaitAsync(Patience); // the later task ran, so the cancelled one came due before it

        Assert.False(ran);
    }

    [Fact]
    public async Task ARepeatedTaskKeepsItsIntervalUntilCancelled()
    {
        var cancel = new Cancelable(Scheduler);
        var runs = new List<long>();
        var third = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(30), () =>
        {
            runs.Add(Stopwatch.GetTimestamp());
            if (runs.Count == 3)
            {
                cancel.Cancel(); // from inside the third run: no fourth can be in flight
                third.SetResult();
            }
        }, cancel);
        await third.Task.WaitAsync(Patience);
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(100), after.SetResult);

        await after.Task.WaitAsync(Patience); // past where a fourth and fifth run would have been

        Assert.Equal(3, runs.Count);
        Assert.True(Stopwatch.GetElapsedTime(runs[0], runs[1]) >= TimeSpan.FromMilliseconds(30));
        Assert.True(Stopwatch.GetElapsedTime(runs[1], runs[2]) >= TimeSpan.FromMilliseconds(30));
    }

    [Fact]
    public void CancelledTasksDoNotPileUpInTheQueue()
    {
        // An actor's receive timeout is cancelled and scheduled again on every message, each an hour out.
        for (var i = 0; i < 100_000; i++)
        {
            var cancel = new Cancelable(Scheduler);
            Scheduler.Advanced.ScheduleOnce(TimeSpan.FromHours(1), () => { }, cancel);
            cancel.Cancel();
        }

        Assert.InRange(_scheduler.Pending, 0, 2048);
    }

    [Fact]
    public void DisposeRunsEveryPendingTaskOnceAndRefusesNewOnes()
    {
        var runs = 0;
        var cancelled = new Cancelable(Scheduler);
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromHours(1), () => Interlocked.Increment(ref runs));
        Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.FromHours(1), TimeSpan.FromHours(1), () => Interlocked.Increment(ref runs));
        Scheduler.Advanced.ScheduleOnce(TimeSpan.FromHours(1), () => Interlocked.Increment(ref runs), cancelled);
        cancelled.Cancel();

        _scheduler.Dispose();
        _scheduler.Dispose();

        Assert.Equal(2, runs);
        Assert.Throws<SchedulerException>(() => Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => { }));
    }

    [Fact]
    public async Task AnActorSystemRunsOnItWithTimersAndAskTimeouts()
    {
        var config = ConfigurationFactory.ParseString($"akka.scheduler.implementation = \"{typeof(DeadlineScheduler).AssemblyQualifiedName}\"");
        using var system = ActorSystem.Create("deadline", config);
        Assert.IsType<DeadlineScheduler>(system.Scheduler);
        var echo = system.ActorOf(Props.Create(() => new Echo()));

        Assert.Equal("tick", await echo.Ask<string>("start", Patience)); // a timer started inside the actor
        await Assert.ThrowsAsync<AskTimeoutException>(() => echo.Ask<string>("ignore", TimeSpan.FromMilliseconds(100)));
        await system.Terminate().WaitAsync(Patience);
    }

    private sealed class Receiver : ICanTell
    {
        private readonly TaskCompletionSource<object> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<object> Next => _next.Task;

        public void Tell(object message, IActorRef sender) => _next.TrySetResult(message);
    }

    private sealed class Echo : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public Echo()
        {
            IActorRef? asker = null;
            Receive<string>(s => s == "start", _ =>
            {
                asker = Sender;
                Timers.StartSingleTimer("t", "tick", TimeSpan.FromMilliseconds(30));
            });
            Receive<string>(s => s == "tick", s => asker?.Tell(s));
            Receive<string>(_ => { });
        }
    }
}
