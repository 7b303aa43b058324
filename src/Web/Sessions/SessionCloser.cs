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
    public async Task CloseAsync(Session session, string reason, int reconnectAfterMs)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.TryBeginClosing())
        {
            return; // already being closed (a revocation applied twice, or a shutdown racing it)
        }
        try
        {
            await hub.Clients.Client(session.ConnectionId).SendAsync(EventNames.ConnectionClosing,
                new ConnectionClosingEvent(reason, reconnectAfterMs)).ConfigureAwait(false);
            await Task.WhenAny(session.Ended, Task.Delay(options.Value.ClosingGrace, time)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The connection may be gone already; it is closed either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        session.Abort();
        await lifecycle.EndAsync(session.ConnectionId, reason).ConfigureAwait(false);
    }
}
