using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Hubs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Sessions;

/// <summary>
/// Closes a connection on purpose, telling the client why first: <c>connection:closing</c> {reason, reconnectAfterMs},
/// then up to <see cref="ConnectionOptions.ClosingGrace"/> for the client to close by itself (a cut right after the send
/// could drop the event before it left the socket), then the cut, and the session ends like any other.
/// </summary>
public sealed class SessionCloser(
    IHubContext<CollabHub> hub,
    SessionLifecycle lifecycle,
    IOptions<ConnectionOptions> options,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time)
{
    /// <summary>
    /// Tells the session why and closes it; <paramref name="grace"/> (default <see cref="ConnectionOptions.ClosingGrace"/>)
    /// is how long the client may take to close by itself. True when it did (or was gone already), false when it was cut.
    /// </summary>
    public async Task<bool> CloseAsync(Session session, string reason, int reconnectAfterMs, TimeSpan? grace = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.TryBeginClosing())
        {
            return true; // already being closed (a revocation applied twice, or a shutdown racing it)
        }
        var closedByClient = false;
        try
        {
            await hub.Clients.Client(session.ConnectionId).SendAsync(EventNames.ConnectionClosing,
                new ConnectionClosingEvent(reason, reconnectAfterMs)).ConfigureAwait(false);
            var wait = Task.Delay(grace ?? options.Value.ClosingGrace, time);
            closedByClient = await Task.WhenAny(session.Ended, wait).ConfigureAwait(false) != wait;
        }
#pragma warning disable CA1031 // The connection may be gone already; it is closed either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        if (!closedByClient)
        {
            session.Abort();
        }
        await lifecycle.EndAsync(session.ConnectionId, reason).ConfigureAwait(false);
        return closedByClient;
    }
}
