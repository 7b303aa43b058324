using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Discovery.Config.Hosting;
using Akka.Discovery.KubernetesApi;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Cluster bootstrap (<c>Collab:Bootstrap</c>): instead of a fixed list of seed nodes, nodes find each other through a
/// discovery method (<c>config</c>: a list of contact points; <c>kubernetes-api</c>: the pods with a label) and
/// Akka.Management's bootstrap decides who forms the cluster and who joins.
/// </summary>
public sealed class BootstrapSettings
{
    public bool Enabled { get; set; }

    /// <summary><c>config</c> (the <see cref="ContactPoints"/> list) or <c>kubernetes-api</c> (pods matching <see cref="PodLabelSelector"/>).</summary>
    public string Discovery { get; set; } = "config";

    /// <summary>The service every node of this cluster registers under.</summary>
    public string ServiceName { get; set; } = "collab";

    /// <summary>config discovery: every node's HTTP endpoint (<c>host:port</c>), where it answers <c>/bootstrap/seed-nodes</c>.</summary>
    public string[] ContactPoints { get; set; } = [];

    /// <summary>Contact points that must be found (and agree) before the lowest-addressed one forms a new cluster.</summary>
    public int RequiredContactPoints { get; set; } = 2;

    /// <summary>How long the set of contact points must stay the same before a new cluster is formed.</summary>
    public TimeSpan StableMargin { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>kubernetes-api: the label selector of this cluster's pods.</summary>
    public string PodLabelSelector { get; set; } = "app.kubernetes.io/name=collabakka";

    /// <summary>kubernetes-api: the pods' namespace (default: the namespace the pod runs in).</summary>
    public string? PodNamespace { get; set; }

    /// <summary>kubernetes-api: the name of the container port that serves HTTP (and so <c>/bootstrap/seed-nodes</c>).</summary>
    public string PortName { get; set; } = "http";

    /// <summary>This node's own contact point, <c>http://host:port</c> as the others reach it (default: PublicHostname and the HTTP port Kestrel listens on).</summary>
    public string? SelfContactPoint { get; set; }

    public void Validate()
    {
        var errors = new List<string>();
        if (Discovery is not ("config" or "kubernetes-api"))
        {
            errors.Add($"Collab:Bootstrap:Discovery must be config or kubernetes-api, not '{Discovery}'.");
        }
        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            errors.Add("Collab:Bootstrap:ServiceName is required.");
        }
        if (RequiredContactPoints < 1 || StableMargin <= TimeSpan.Zero)
        {
            errors.Add("Collab:Bootstrap: RequiredContactPoints >= 1 and StableMargin > 0 are required.");
        }
        if (Enabled && Discovery == "config" && ContactPoints.Length < RequiredContactPoints)
        {
            errors.Add($"Collab:Bootstrap:ContactPoints lists {ContactPoints.Length} endpoints; RequiredContactPoints is {RequiredContactPoints}.");
        }
        foreach (var point in ContactPoints)
        {
            var colon = point.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(point[(colon + 1)..], out var port) || port is < 1 or > 65535)
            {
                errors.Add($"Collab:Bootstrap:ContactPoints: '{point}' is not host:port.");
            }
        }
        if (SelfContactPoint is { } self && !Uri.TryCreate(self, UriKind.Absolute, out _))
        {
            errors.Add($"Collab:Bootstrap:SelfContactPoint: '{self}' is not an absolute URL.");
        }
        if (errors.Count > 0)
        {
            throw new OptionsValidationException("Collab:Bootstrap", typeof(BootstrapSettings), errors);
        }
    }
}

public static partial class ClusterBootstrapping
{
    /// <summary>Akka.Management's bootstrap and the discovery method, without its HTTP server (DESIGN §2).</summary>
    internal static AkkaConfigurationBuilder WithCollabBootstrap(this AkkaConfigurationBuilder builder, BootstrapSettings settings)
    {
        if (!settings.Enabled)
        {
            return builder;
        }
        builder.WithClusterBootstrap(options =>
        {
            options.ContactPointDiscovery.ServiceName = settings.ServiceName;
            options.ContactPointDiscovery.RequiredContactPointsNr = settings.RequiredContactPoints;
            options.ContactPointDiscovery.StableMargin = settings.StableMargin;
            // Several contact points on one host (a local cluster): keep them apart by port, not by host name.
            options.ContactPointDiscovery.PortName = settings.PortName;
            options.ContactPoint.FilterOnFallbackPort = false;
        }, autoStart: false);
        if (settings.Discovery == "kubernetes-api")
        {
            builder.WithKubernetesDiscovery(options =>
            {
                options.PodLabelSelector = settings.PodLabelSelector;
                options.PodNamespace = settings.PodNamespace;
            });
        }
        else
        {
            builder.WithConfigDiscovery(options => options.Services.Add(new Service
            {
                Name = settings.ServiceName,
                Endpoints = settings.ContactPoints,
            }));
        }
        return builder;
    }

    /// <summary>
    /// <c>GET /bootstrap/seed-nodes</c>: what Akka.Management's contact-point route answers, served by Kestrel, in its
    /// own JSON types and serializer (the probing side deserializes exactly those): this node's address and the
    /// reachable members that are Up, WeaklyUp or Joining; none while this node is leaving or gone.
    /// </summary>
    public static IEndpointRouteBuilder MapBootstrapSeedNodes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/bootstrap/seed-nodes", (ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            var self = cluster.SelfMember;
            var members = ImmutableList<HttpBootstrapJsonProtocol.ClusterMember>.Empty;
            if (self.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed))
            {
                var state = cluster.State;
                members = state.Members
                    .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
                    .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
                    .ToImmutableList();
            }
            var body = JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, members));
            return Results.Text(body, "application/json");
        }).WithSummary("Cluster bootstrap contact point (Akka.Management's format): this node's address and the members that are up.");
        return app;
    }

    /// <summary>Starts the bootstrap once Kestrel listens, so this node's own contact point is known.</summary>
    internal sealed class Starter(BootstrapSettings settings, ClusterSettings cluster, IServiceProvider services, IHostApplicationLifetime lifetime,
        ILogger<Starter> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (settings.Enabled)
            {
                lifetime.ApplicationStarted.Register(() => _ = StartBootstrapAsync());
            }
            return Task.CompletedTask;
        }

        private async Task StartBootstrapAsync()
        {
            try
            {
                var system = services.GetRequiredService<ActorSystem>();
                var self = new Uri(settings.SelfContactPoint ?? SelfFromServer());
                var bootstrap = ClusterBootstrap.Get(system);
                bootstrap.Routes(ManagementRouteProviderSettings.Create(self, readOnly: true)); // tells it its own contact point
                Log.Starting(logger, settings.Discovery, settings.ServiceName, self);
                await bootstrap.Start().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.Failed(logger, ex);
            }
        }

        private string SelfFromServer()
        {
            var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var first = new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal) || a.StartsWith("https://", StringComparison.Ordinal)));
            return $"{first.Scheme}://{cluster.PublicHostname ?? cluster.Hostname}:{first.Port}";
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Cluster bootstrap: discovery {Discovery}, service {Service}, self contact point {Self}")]
        public static partial void Starting(ILogger logger, string discovery, string service, Uri self);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Critical, Message = "Cluster bootstrap could not start; the node stays out of the cluster (/ready is unready).")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
