using System.Diagnostics.Metrics;
using System.Net.Sockets;
using CollabAkka.Entities.Resources;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace CollabAkka.Node.Storage;

/// <summary>Circuit breakers and retries in front of PostgreSQL (<c>Collab:Resilience</c>); defaults are the specification's (BE-001.7).</summary>
public sealed class StoreResilienceOptions
{
    /// <summary>Transient failures in a row that open a breaker.</summary>
    public int FailureThreshold { get; set; } = 5;

    /// <summary>How long a breaker stays open before one trial call is let through (half-open).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First wait of the exponential retry (1, 2, 4, 8 … s) used by migrations at start and the audit writer.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between retries.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long start-up retries the migrations before the node gives up (exit 3).</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public void Validate()
    {
        if (FailureThreshold < 2 || BreakDuration < TimeSpan.FromMilliseconds(500) ||
            RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay || StartupTimeout < TimeSpan.Zero)
        {
            throw new OptionsValidationException("Collab:Resilience", typeof(StoreResilienceOptions),
                ["Collab:Resilience: FailureThreshold >= 2, BreakDuration >= 0.5 s, RetryBaseDelay > 0, RetryMaxDelay >= RetryBaseDelay, StartupTimeout >= 0 are required."]);
        }
    }
}

/// <summary>
/// One Polly circuit breaker per PostgreSQL call path: <c>locks</c>, <c>documents</c>, <c>audit</c> and
/// <c>migrations</c>, so a failing path is visible by name and the others keep their own state. A breaker opens
/// after <c>FailureThreshold</c> transient failures in a row (a success resets the count), stays open <c>BreakDuration</c> (calls fail at once
/// with <see cref="StoreUnavailableException"/>, no connect or command timeout), then lets one trial call through
/// (half-open): success closes it, failure opens it again.
/// </summary>
public sealed class PostgresCircuits : IStoreCircuits
{
    public const string Locks = "locks";
    public const string Documents = "documents";
    public const string Audit = "audit";
    public const string Migrations = "migrations";

    private readonly Dictionary<string, Circuit> _circuits = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public PostgresCircuits(StoreResilienceOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _time = time ?? TimeProvider.System;
        foreach (var name in new[] { Locks, Documents, Audit, Migrations })
        {
            _circuits[name] = new Circuit(name, options, _time);
        }
    }

    public StoreResilienceOptions Options { get; }

    public IReadOnlyList<StoreCircuitView> Circuits => _circuits.Values.Select(c => c.View()).ToList();

    public bool RefusesWrites(out string reason)
    {
        foreach (var name in new[] { Documents, Audit })
        {
            var circuit = _circuits[name];
            if (circuit.State is CircuitState.Open or CircuitState.Isolated)
            {
                reason = circuit.OpenMessage();
                return true;
            }
        }
        reason = "";
        return false;
    }

    /// <summary>Runs <paramref name="body"/> through the named breaker; an open breaker throws StoreUnavailableException at once.</summary>
    public async Task<T> ExecuteAsync<T>(string name, Func<CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        var circuit = _circuits[name];
        try
        {
            return await circuit.Policy.ExecuteAsync(ct => body(ct), cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException)
        {
            throw new StoreUnavailableException(circuit.OpenMessage());
        }
    }

    /// <summary>Start-up: retries <paramref name="body"/> with exponential backoff (RetryBaseDelay doubling to RetryMaxDelay) for StartupTimeout.</summary>
    public async Task<T> RetryAtStartAsync<T>(Func<CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + Options.StartupTimeout;
        var retry = new ResiliencePipelineBuilder<T>().AddRetry(new RetryStrategyOptions<T>
        {
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is StoreUnavailableException && _time.GetUtcNow() < deadline),
            BackoffType = DelayBackoffType.Exponential,
            Delay = Options.RetryBaseDelay,
            MaxDelay = Options.RetryMaxDelay,
            MaxRetryAttempts = int.MaxValue,
            UseJitter = false,
        }).Build();
        return await retry.ExecuteAsync(static async (b, ct) => await b(ct).ConfigureAwait(false), body, cancellationToken).ConfigureAwait(false);
    }

    internal static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
        NpgsqlException => true, // connection-level failures (refused, reset, timeout)
        TimeoutException or SocketException or IOException => true,
        StoreUnavailableException { InnerException: { } inner } => IsTransient(inner),
        _ => false,
    };

    // Polly's classic consecutive-count breaker (the Policy API the Polly package keeps beside Polly.Core's
    // pipelines): Polly.Core's own breaker counts a failure ratio over a sampling window, so the successes just
    // before an outage would keep it closed for the whole window instead of opening after five failures in a row.
    private sealed class Circuit
    {
        private long _opened;
        private long _halfOpened;
        private long _closed;
        private DateTimeOffset? _openedAt;
        private DateTimeOffset? _retryAt;
        private string? _lastError;

        public Circuit(string name, StoreResilienceOptions options, TimeProvider time)
        {
            Name = name;
            Policy = Polly.Policy.Handle<Exception>(IsTransient).CircuitBreakerAsync(
                options.FailureThreshold,
                options.BreakDuration,
                onBreak: (ex, delay) =>
                {
                    Interlocked.Increment(ref _opened);
                    _openedAt = time.GetUtcNow();
                    _retryAt = _openedAt + delay;
                    _lastError = ex.Message;
                },
                onReset: () =>
                {
                    Interlocked.Increment(ref _closed);
                    _openedAt = null;
                    _retryAt = null;
                },
                onHalfOpen: () => Interlocked.Increment(ref _halfOpened));
        }

        public string Name { get; }

        public AsyncCircuitBreakerPolicy Policy { get; }

        public CircuitState State => Policy.CircuitState;

        public string OpenMessage() =>
            $"PostgreSQL is failing: the '{Name}' circuit breaker is open until {_retryAt:HH:mm:ss} UTC after repeated failures " +
            $"({_lastError}); nothing was changed (Collab:Resilience:BreakDuration).";

        public StoreCircuitView View() => new(Name, StateName(State), _openedAt, _retryAt, _lastError,
            Interlocked.Read(ref _opened), Interlocked.Read(ref _halfOpened), Interlocked.Read(ref _closed));
    }

    internal static string StateName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half-open",
        _ => "isolated",
    };

    /// <summary>0 closed, 1 open, 2 half-open (the value of <c>collab_store_circuit_state</c>).</summary>
    internal static int StateValue(string state) => state switch { "closed" => 0, "open" => 1, "half-open" => 2, _ => 3 };
}

/// <summary>Exports the breakers on the <c>CollabAkka.Storage</c> meter (GET /metrics).</summary>
public sealed class StoreCircuitMetrics
{
    public const string MeterName = "CollabAkka.Storage";

    public StoreCircuitMetrics(IStoreCircuits circuits, IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(circuits);
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("collab_store_circuit_state",
            () => circuits.Circuits.Select(c => new Measurement<int>(PostgresCircuits.StateValue(c.State), new KeyValuePair<string, object?>("circuit", c.Name))),
            null, "PostgreSQL circuit breaker state: 0 closed, 1 open, 2 half-open.");
        meter.CreateObservableCounter("collab_store_circuit_opened_total",
            () => circuits.Circuits.Select(c => new Measurement<long>(c.Opened, new KeyValuePair<string, object?>("circuit", c.Name))),
            "{transition}", "Times a PostgreSQL circuit breaker opened.");
        meter.CreateObservableCounter("collab_store_circuit_half_opened_total",
            () => circuits.Circuits.Select(c => new Measurement<long>(c.HalfOpened, new KeyValuePair<string, object?>("circuit", c.Name))),
            "{transition}", "Times a PostgreSQL circuit breaker let a trial call through.");
    }
}
