using Akka.Actor;
using Akka.DistributedData;
using Akka.Hosting;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Web.Http;
using CollabAkka.Web.Security;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Session revocations replicated to every node with Akka's Distributed Data: an <see cref="LWWDictionary{TKey,TValue}"/>
/// user id → "not before" (unix ms), written to all reachable nodes at once and gossiped to the rest, including nodes that
/// join later (Distributed Pub/Sub would lose a revocation published while a node was starting). Each node applies
/// every change to its <see cref="SessionRevocations"/>, which refuses older tokens and closes their connections.
/// </summary>
internal sealed partial class SessionRevocationReplication(
    IServiceProvider services,
    IRequiredActor<ResourceRegion> region,
    SessionRevocations revocations,
    IOptions<SecurityOptions> security,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    ILogger<SessionRevocationReplication> logger) : BackgroundService, IRevocationReplication
{
    internal static readonly LWWDictionaryKey<string, long> Key = new("collab-session-revocations");
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);

    private ActorSystem? _system;

    public async Task PublishAsync(string userId, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        var system = _system ?? throw new InvalidOperationException("The ActorSystem has not started yet.");
        var data = DistributedData.Get(system);
        var self = Akka.Cluster.Cluster.Get(system).SelfUniqueAddress;
        var response = await data.Replicator.Ask<IUpdateResponse>(
            Dsl.Update(Key, LWWDictionary<string, long>.Empty, new WriteAll(WriteTimeout),
                map => map.SetItem(self, userId, Math.Max(map.TryGetValue(userId, out var old) ? old : 0, notBefore.ToUnixTimeMilliseconds()))),
            WriteTimeout + TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessful)
        {
            // Written here; the nodes that did not confirm in time get it by gossip.
            ReplicationLog.NotAllConfirmed(logger, userId);
        }
    }

    /// <summary>Before the node takes connections (hosted services start before Kestrel): the stored revocations.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var loaded = await revocations.LoadAsync(Horizon(), cancellationToken).ConfigureAwait(false);
        ReplicationLog.Loaded(logger, loaded);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    // A revocation older than the longest token lifetime refuses nothing any more.
    private DateTimeOffset Horizon() => time.GetUtcNow() - (security.Value.MaxTokenLifetime ?? TimeSpan.FromDays(7));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await region.GetAsync(stoppingToken).ConfigureAwait(false); // the ActorSystem is up
        _system = services.GetRequiredService<ActorSystem>();
        _system.ActorOf(Props.Create(() => new Subscriber(revocations)), "session-revocations");
        revocations.Replication = this;
        using var timer = new PeriodicTimer(PruneInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await revocations.PruneAsync(Horizon(), stoppingToken).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                ReplicationLog.PruneFailed(logger, ex.Message); // the next tick tries again
            }
        }
    }

    private sealed class Subscriber : ReceiveActor
    {
        public Subscriber(SessionRevocations revocations)
        {
            Receive<Changed>(changed =>
            {
                var map = changed.Get(Key);
                revocations.Apply(map.Entries.ToDictionary(e => e.Key, e => DateTimeOffset.FromUnixTimeMilliseconds(e.Value), StringComparer.Ordinal));
            });
        }

        protected override void PreStart() => DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(Key, Self));
    }

    /// <summary><c>POST /api/users/{userId}/revoke-sessions</c> (admin, audited).</summary>
    public static IEndpointRouteBuilder MapSessionRevocation(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/users/{userId}/revoke-sessions", async (HttpContext http, string userId, SessionRevocations revocations,
            [FromKeyedServices(CollabTime.Key)] TimeProvider clock, CancellationToken ct) =>
        {
            if (userId.Length is 0 or > 256)
            {
                return Problems.Result(http, StatusCodes.Status400BadRequest, Messages.ErrorCodes.ValidationFailed, "userId must be 1..256 characters.");
            }
            DateTimeOffset notBefore;
            try
            {
                notBefore = await revocations.RevokeAsync(userId, clock.GetUtcNow(), ct).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                return Problems.Result(http, StatusCodes.Status503ServiceUnavailable, Messages.ErrorCodes.Unavailable,
                    $"The revocation could not be stored, so nothing was revoked; retry. {ex.Message}");
            }
            HttpAudit.Record(http, AuditEventTypes.SessionsRevoked, null, new Dictionary<string, object?>
            {
                ["userId"] = userId,
                ["notBefore"] = notBefore,
            });
            return Results.Json(new { userId, notBefore, status = "revoked" }, statusCode: StatusCodes.Status202Accepted);
        }).RequireAuthorization(ClusterEndpoints.AdminPolicy)
          .WithSummary("End every session of a user on every node: tokens issued before now are refused, open connections get connection:closing and are closed; audited.");
        return app;
    }

    private static partial class ReplicationLog
    {
        [LoggerMessage(EventId = 1310, Level = LogLevel.Warning, Message = "The revocation of user {UserId} was not confirmed by every node in time; gossip carries it to the rest.")]
        public static partial void NotAllConfirmed(ILogger logger, string userId);

        [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "{Count} stored session revocations loaded.")]
        public static partial void Loaded(ILogger logger, int count);

        [LoggerMessage(EventId = 1312, Level = LogLevel.Warning, Message = "Pruning old session revocations failed: {Reason}")]
        public static partial void PruneFailed(ILogger logger, string reason);
    }
}
