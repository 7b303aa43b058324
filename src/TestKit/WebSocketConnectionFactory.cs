using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace CollabAkka.TestKit;

/// <summary>
/// The transport our package source lacks for the SignalR .NET client (Http.Connections.Client does not
/// restore): a plain WebSocket to <c>/hubs/collab</c>, with the token as <c>access_token</c> as browsers send it.
/// </summary>
public sealed class WebSocketConnectionFactory(Func<Task<string?>> accessTokenProvider) : IConnectionFactory
{
    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var uri = endpoint is UriEndPoint u ? u.Uri : throw new NotSupportedException($"Unsupported endpoint {endpoint}.");
        var builder = new UriBuilder(uri) { Scheme = uri.Scheme == "https" ? "wss" : "ws" };
        var token = await accessTokenProvider().ConfigureAwait(false);
        if (token is not null)
        {
            var query = builder.Query.TrimStart('?');
            builder.Query = (query.Length > 0 ? query + "&" : "") + "access_token=" + Uri.EscapeDataString(token);
        }
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(builder.Uri, cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException ex)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new HubConnectRefusedException(status, ex);
        }
        var connection = new WebSocketConnection(socket);
        connection.Start();
        return connection;
    }

    private sealed class WebSocketConnection : ConnectionContext
    {
        private readonly ClientWebSocket _socket;
        private readonly Pipe _incoming = new();
        private readonly Pipe _outgoing = new();
        private Task _receive = Task.CompletedTask;
        private Task _send = Task.CompletedTask;
        private readonly CancellationTokenSource _closed = new();

        public WebSocketConnection(ClientWebSocket socket)
        {
            _socket = socket;
            Transport = new Duplex(_incoming.Reader, _outgoing.Writer);
        }

        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");
        public override IFeatureCollection Features { get; } = new FeatureCollection();
        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
        public override IDuplexPipe Transport { get; set; }
        public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }

        public void Start()
        {
            _receive = ReceiveAsync();
            _send = SendAsync();
        }

        private async Task ReceiveAsync()
        {
            Exception? error = null;
            try
            {
                while (true)
                {
                    var memory = _incoming.Writer.GetMemory(4096);
                    var result = await _socket.ReceiveAsync(memory, CancellationToken.None).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                    _incoming.Writer.Advance(result.Count);
                    var flush = await _incoming.Writer.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
            {
                error = ex is WebSocketException ? ex : null;
            }
            await _incoming.Writer.CompleteAsync(error).ConfigureAwait(false);
            await _closed.CancelAsync().ConfigureAwait(false);
        }

        private async Task SendAsync()
        {
            try
            {
                while (true)
                {
                    var result = await _outgoing.Reader.ReadAsync().ConfigureAwait(false);
                    var buffer = result.Buffer;
                    foreach (var segment in buffer)
                    {
                        await _socket.SendAsync(segment, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                    }
                    _outgoing.Reader.AdvanceTo(buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
                if (_socket.State == WebSocketState.Open)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
            await _outgoing.Reader.CompleteAsync().ConfigureAwait(false);
        }

        public override async ValueTask DisposeAsync()
        {
            await _outgoing.Writer.CompleteAsync().ConfigureAwait(false);
            await Task.WhenAny(Task.WhenAll(_send, _receive), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            _socket.Abort();
            _socket.Dispose();
            _closed.Dispose();
            await base.DisposeAsync().ConfigureAwait(false);
        }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            _socket.Abort();
        }

        private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input { get; } = input;
            public PipeWriter Output { get; } = output;
        }
    }
}

/// <summary>The server refused the WebSocket (e.g. 401 for a bad token).</summary>
public sealed class HubConnectRefusedException(HttpStatusCode statusCode, Exception inner)
    : Exception($"The hub refused the connection with HTTP {(int)statusCode}.", inner)
{
    public HttpStatusCode StatusCode { get; } = statusCode;
}
