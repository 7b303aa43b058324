using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// SignalR's in-memory lifetime manager with one change: sending to a list of connections looks each one up.
/// <see cref="DefaultHubLifetimeManager{THub}"/> answers <c>Clients.Clients(ids)</c> by walking every connection of
/// the node and testing <c>ids.Contains(connection.ConnectionId)</c>, so each event costs the node's whole connection
/// count where it should cost its recipients (in a profile at 100 clients the scan was ~4 % of the node's samples, and
/// it grows with the node's connections: docs/ARCHITECTURE.md §2). Everything else (groups, users, all) is the default's. The message is still
/// serialized once per protocol for all its recipients.
/// </summary>
public sealed class CollabHubLifetimeManager(ILogger<DefaultHubLifetimeManager<CollabHub>> logger)
    : DefaultHubLifetimeManager<CollabHub>(logger)
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _connections = new(StringComparer.Ordinal);

    /// <summary>Connections of this node the lookup knows (for tests and metrics).</summary>
    public int Count => _connections.Count;

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections[connection.ConnectionId] = connection;
        return base.OnConnectedAsync(connection);
    }

    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections.TryRemove(connection.ConnectionId, out _);
        return base.OnDisconnectedAsync(connection);
    }

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionIds);
        SerializedHubMessage? message = null;
        List<Task>? pending = null;
        for (var i = 0; i < connectionIds.Count; i++)
        {
            if (!_connections.TryGetValue(connectionIds[i], out var connection))
            {
                continue; // gone already: like the default, a connection that is not here is skipped
            }
            message ??= new SerializedHubMessage(new InvocationMessage(methodName, args));
            var write = connection.WriteAsync(message, cancellationToken);
            if (!write.IsCompletedSuccessfully)
            {
                (pending ??= []).Add(write.AsTask());
            }
        }
        return pending is null ? Task.CompletedTask : Task.WhenAll(pending);
    }
}
