using Akka.Actor;
using Akka.Remote;
using Akka.Remote.Transport;
using CollabAkka.Web.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Tests only: cut or restore this node's remoting link toward a peer with Akka.Remote's own throttler adapter
/// (present only under <see cref="ClusterSettings.TestTransportAdapters"/>). A cut blackholes the peer's address in
/// both directions at this end: heartbeats, gossip and sharding traffic are dropped, TCP stays up. Cutting both ends
/// of every link between two sides is a partition on loopback, for the in-process TestKit cluster (directly) and for
/// node processes (through <c>POST /cluster/links</c>, mapped only with the adapter on).
/// </summary>
public static class ClusterLinks
{
    public static async Task SetAsync(ActorSystem system, Address peer, bool cut)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(peer);
        // RARP.For is internal in Akka.NET 1.5; the provider behind it is public.
        var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)system).Provider).Transport;
        ThrottleMode mode = cut ? Blackhole.Instance : Unthrottled.Instance;
        if (!await transport.ManagementCommand(new SetThrottle(peer, ThrottleTransportAdapter.Direction.Both, mode)).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The throttler did not accept {mode} toward {peer}: is Collab:Cluster:TestTransportAdapters on?");
        }
    }

    /// <summary>
    /// <c>POST /cluster/links?peer=akka.trttl.tcp://collab@host:port&amp;cut=true|false</c> (admin, audited as
    /// <c>CLUSTER_LINK_CUT</c> / <c>CLUSTER_LINK_RESTORED</c>); only when the throttler adapter is on.
    /// </summary>
    public static IEndpointRouteBuilder MapClusterLinks(this IEndpointRouteBuilder app, ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.TestTransportAdapters)
        {
            return app;
        }
        app.MapPost("/cluster/links", async (HttpContext http, ActorSystem system, string? peer, bool? cut) =>
        {
            if (peer is null || cut is null || !ActorPath.TryParseAddress(peer, out var address) || address.Protocol != settings.Protocol ||
                address.Host is null || address.Port is null)
            {
                return Problems.Result(http, StatusCodes.Status400BadRequest, Messages.ErrorCodes.ValidationFailed,
                    $"Give peer ({settings.Protocol}://{AkkaHosting.SystemName}@host:port) and cut (true or false).");
            }
            HttpAudit.Record(http, cut.Value ? "CLUSTER_LINK_CUT" : "CLUSTER_LINK_RESTORED", null,
                new Dictionary<string, object?> { ["peer"] = address.ToString() });
            await SetAsync(system, address, cut.Value).ConfigureAwait(false);
            return Results.Json(new { peer = address.ToString(), cut = cut.Value });
        }).RequireAuthorization(ClusterEndpoints.AdminPolicy)
            .WithSummary("Tests only (Collab:Cluster:TestTransportAdapters): cut or restore this node's link toward a peer; audited.");
        return app;
    }
}
