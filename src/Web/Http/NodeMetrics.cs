using System.Diagnostics.Metrics;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Web.Sessions;

namespace CollabAkka.Web.Http;

/// <summary>The node's own gauges and counters (meter <c>CollabAkka.Node</c>), read by <see cref="PrometheusExporter"/>.</summary>
public sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "CollabAkka.Node";

    private readonly Meter _meter;

    public NodeMetrics(IMeterFactory meterFactory, ConnectionRegistry registry, IEntityRouter router, DocumentCommitter committer)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableGauge("collab_connections", () => registry.Count, "{connection}", "Open hub connections on this node.");
        _meter.CreateObservableGauge("collab_unique_users", () => registry.UniqueUsers, "{user}", "Distinct users connected to this node.");
        _meter.CreateObservableGauge("collab_active_entities", () => router.ActiveRoots.Count, "{entity}", "Resource entities alive on this node.");
        _meter.CreateObservableGauge("collab_document_commits_pending", () => committer.Pending, "{update}",
            "Document updates accepted and not yet durable (Collab:Documents:MaxPendingCommits bounds it).");
        Invocations = _meter.CreateCounter<long>("collab_hub_invocations_total", "{invocation}", "Hub invocations by method and outcome code.");
    }

    /// <summary>Tagged with <c>method</c> and <c>outcome</c> (ok or the error code).</summary>
    public Counter<long> Invocations { get; }

    public void Dispose() => _meter.Dispose();
}
