using System.Net;

namespace CollabAkka.TestKit;

/// <summary>The hub refused the WebSocket upgrade (for example 401 for a bad token); <see cref="StatusCode"/> says how.</summary>
public sealed class HubConnectRefusedException(HttpStatusCode statusCode, Exception inner)
    : Exception($"The hub refused the connection with HTTP {(int)statusCode}.", inner)
{
    public HttpStatusCode StatusCode { get; } = statusCode;
}
