using System.Buffers;
using System.Text.Json;
using CollabAkka.Messages;
using CollabAkka.Messages.Wire;
using CollabAkka.TestKit;
using CollabAkka.Web.Hubs;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

/// <summary>
/// Issue 14: the MessagePack hub protocol. The whole suite runs on it once more (COLLAB_TEST_HUB_PROTOCOL=messagepack);
/// these tests pin what only MessagePack has: the names and bin of what the server writes, and hand-made frames a
/// JSON client cannot send (bin fields, text that is not UTF-8, non-map arguments, deep nesting).
/// </summary>
public sealed class MessagePackProtocolTests
{
    private static readonly MessagePackSerializerOptions Plain = MessagePackSerializerOptions.Standard.WithResolver(ContractlessStandardResolver.Instance);

    private static object? Decode(byte[] bytes) => MessagePackSerializer.Deserialize<object>(bytes, Plain);

    private static byte[] Encode<T>(T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        MessagePackSerializer.Serialize(typeof(T), ref writer, value, WireMessagePack.ServerOptions);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public void ResponsesAndEventsUseTheJsonNamesOmitTheSameFieldsAndSendBytesAsBin()
    {
        var now = DateTimeOffset.Parse("2026-12-01T12:00:00.5+00:00", System.Globalization.CultureInfo.InvariantCulture);
        var ok = (IDictionary<object, object>)Decode(Encode(ApiResponse.Ok("r-1", now, new DocSyncResult("doc:1", "AQID", "", 3), 3)))!;
        Assert.Equal(["success", "requestId", "data", "newRevision", "timestamp"], ok.Keys.Cast<string>());
        Assert.Equal(JsonSerializer.Serialize(now).Trim('"'), ok["timestamp"]);
        var data = (IDictionary<object, object>)ok["data"];
        Assert.Equal(new byte[] { 1, 2, 3 }, data["update"]);
        Assert.Equal(Array.Empty<byte>(), data["stateVector"]);
        Assert.Equal("doc:1", data["resourceId"]);

        var fail = (IDictionary<object, object>)Decode(Encode(ApiResponse.Fail(null, now, new ApiError(ErrorCodes.ValidationFailed, "m"))))!;
        Assert.Equal(["success", "requestId", "error", "timestamp"], fail.Keys.Cast<string>());
        Assert.Null(fail["requestId"]);
        Assert.Equal(["code", "message"], ((IDictionary<object, object>)fail["error"]).Keys.Cast<string>());

        var broadcast = new ApiBroadcast("doc:update", "doc:1", new DocUpdatePayload("AAE=", "s-1"), new TriggeredBy("u", "U", "doc:update"), 4, now);
        var e = (IDictionary<object, object>)Decode(Encode(broadcast))!;
        Assert.Equal(["event", "resourceId", "payload", "triggeredBy", "newRevision", "timestamp"], e.Keys.Cast<string>());
        Assert.Equal(new byte[] { 0, 1 }, ((IDictionary<object, object>)e["payload"])["update"]);

        // A JSON value (resource:update, STALE_REVISION's state) is a MessagePack value, not a JSON string.
        var stale = new ApiError(ErrorCodes.StaleRevision, "m", new StaleRevisionDetails(2, new RawJson("{\"a\":[1,\"x\",null,1.5]}")));
        var state = (IDictionary<object, object>)((IDictionary<object, object>)((IDictionary<object, object>)Decode(Encode(stale))!)["details"])["state"];
        Assert.Equal(new object?[] { (byte)1, "x", null, 1.5 }, (object?[])state["a"]);
    }

    [Fact]
    public void ATestClientReadsWhatTheServerWritesAsTheJsonAJsonClientReads()
    {
        var now = DateTimeOffset.UtcNow;
        var response = ApiResponse.Ok("r-1", now, new DocSyncResult("doc:1", "AQID", "", 3), 3);
        var bytes = Encode(response);
        var client = WireMessagePack.ClientOptions(_ => false);
        var read = MessagePackSerializer.Deserialize<JsonElement>(bytes, client);
        Assert.Equal(JsonSerializer.Serialize(response, WireMessagePackWriter.Json), read.GetRawText());
    }

    // ---- over the wire, with frames written by hand ----------------------------------------------------------------

    /// <summary>An argument given as its MessagePack bytes, written verbatim.</summary>
    private sealed record Frame(byte[] Bytes);

    /// <summary>An answer kept as its MessagePack bytes.</summary>
    private sealed record Raw(byte[] Bytes)
    {
        public IDictionary<object, object> Map => (IDictionary<object, object>)Decode(Bytes)!;
    }

    private sealed class FrameFormatter : IMessagePackFormatter<Frame>
    {
        public void Serialize(ref MessagePackWriter writer, Frame value, MessagePackSerializerOptions options) => writer.WriteRaw(value.Bytes);

        public Frame Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => throw new NotSupportedException();
    }

    private sealed class RawFormatter : IMessagePackFormatter<Raw>
    {
        public void Serialize(ref MessagePackWriter writer, Raw value, MessagePackSerializerOptions options) => writer.WriteRaw(value.Bytes);

        public Raw Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => new(reader.ReadRaw().ToArray());
    }

    /// <summary>Builds a map argument: values are strings, byte arrays (bin), numbers, or pre-encoded <see cref="Frame"/>s.</summary>
    private static Frame Map(params (object Key, object? Value)[] entries)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(entries.Length);
        foreach (var (key, value) in entries)
        {
            WriteValue(ref writer, key);
            WriteValue(ref writer, value);
        }
        writer.Flush();
        return new Frame(buffer.WrittenSpan.ToArray());
    }

    private static void WriteValue(ref MessagePackWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNil(); break;
            case string text: writer.Write(text); break;
            case byte[] bytes: writer.Write(bytes); break;
            case int number: writer.Write(number); break;
            case double number: writer.Write(number); break;
            case Frame frame: writer.WriteRaw(frame.Bytes); break;
            default: throw new ArgumentException(value.GetType().Name);
        }
    }

    /// <summary>A MessagePack str whose bytes are not UTF-8 (0xff never occurs in UTF-8).</summary>
    private static Frame NotUtf8 => new([0xa3, (byte)'a', 0xff, (byte)'b']);

    private static async Task<HubConnection> ConnectRawAsync(CollabTestNode node, string userId)
    {
        var token = await node.GetTokenAsync(userId);
        var resolver = CompositeResolver.Create([new FrameFormatter(), new RawFormatter()], [WireMessagePack.ClientOptions(_ => false).Resolver]);
        var connection = new HubConnectionBuilder()
            .AddMessagePackProtocol(o => o.SerializerOptions = MessagePackSerializerOptions.Standard.WithResolver(resolver))
            .WithUrl(new Uri(node.BaseUrl, "/hubs/collab"), HttpTransportType.WebSockets, o =>
            {
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult<string?>(token);
            })
            .Build();
        await connection.StartAsync();
        return connection;
    }

    private static byte[] TextUpdate(string field, string text)
    {
        var doc = new CollabAkka.Yjs.YDoc();
        byte[]? update = null;
        doc.UpdateProduced += (_, e) => update = e.Update;
        doc.GetText(field).Insert(0, text);
        return update!;
    }

    private static IDictionary<object, object> ErrorOf(Raw answer) => (IDictionary<object, object>)answer.Map["error"];

    [Fact]
    public async Task BinUpdatesAndStateVectorsAreAcceptedAndDeliveredAsBin()
    {
        await using var node = await CollabTestNode.StartAsync();
        var doc = Ids.Unique("patient-chart:");
        await using var a = await ConnectRawAsync(node, "mp-a");
        await using var b = await ConnectRawAsync(node, "mp-b");
        var received = new TaskCompletionSource<Raw>(TaskCreationOptions.RunContinuationsAsynchronously);
        b.On<Raw>("doc:update", e => received.TrySetResult(e));
        Assert.Equal(true, (await a.InvokeAsync<Raw>("resource:join", Map(("resourceId", doc), ("mode", "editor"), ("requestId", "j1")))).Map["success"]);
        Assert.Equal(true, (await b.InvokeAsync<Raw>("resource:join", Map(("resourceId", doc), ("mode", "viewer")))).Map["success"]);

        var update = TextUpdate("notes", "bytes, not base64");
        var ack = await a.InvokeAsync<Raw>("doc:update", Map(("resourceId", doc), ("update", update), ("requestId", "u1")));
        Assert.Equal(true, ack.Map["success"]);
        Assert.Equal("u1", ack.Map["requestId"]);
        var delivered = (IDictionary<object, object>)(await received.Task.WaitAsync(TimeSpan.FromSeconds(10))).Map["payload"];
        Assert.Equal(update, delivered["update"]);

        // doc:sync with a bin state vector (empty: the client has nothing) answers bin.
        var sync = await b.InvokeAsync<Raw>("doc:sync", Map(("resourceId", doc), ("stateVector", Array.Empty<byte>())));
        var data = (IDictionary<object, object>)sync.Map["data"];
        Assert.IsType<byte[]>(data["update"]);
        Assert.IsType<byte[]>(data["stateVector"]);

        // A base64 str is still accepted from a MessagePack client.
        Assert.Equal(true, (await a.InvokeAsync<Raw>("doc:update", Map(("resourceId", doc), ("update", Convert.ToBase64String(TextUpdate("other", "x")))))).Map["success"]);
    }

    [Fact]
    public async Task MalformedMessagePackArgumentsAreRefusedWithTheJsonCodesAndTheConnectionSurvives()
    {
        await using var node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Documents:MaxUpdateBytes"] = "1000" },
        });
        var doc = Ids.Unique("patient-chart:");
        await using var a = await ConnectRawAsync(node, "mp-bad");
        Assert.Equal(true, (await a.InvokeAsync<Raw>("resource:join", Map(("resourceId", doc), ("mode", "editor")))).Map["success"]);

        async Task<IDictionary<object, object>> Refused(string method, Frame argument, string code)
        {
            var answer = await a.InvokeAsync<Raw>(method, argument);
            Assert.Equal(false, answer.Map["success"]);
            var error = ErrorOf(answer);
            Assert.Equal(code, error["code"]);
            return error;
        }

        // requestId: not UTF-8, not a string, too long.
        var error = await Refused("heartbeat", Map(("requestId", NotUtf8)), ErrorCodes.ValidationFailed);
        Assert.Equal("requestId", ((IDictionary<object, object>)error["details"])["field"]);
        await Refused("heartbeat", Map(("requestId", 5)), ErrorCodes.ValidationFailed);
        await Refused("heartbeat", Map(("requestId", new byte[] { 1 })), ErrorCodes.ValidationFailed); // bin is for the byte fields only
        await Refused("heartbeat", Map(("requestId", new string('x', 129))), ErrorCodes.ValidationFailed);
        // Not a map; a field of the wrong type; text that is not UTF-8 in another field.
        await Refused("heartbeat", new Frame([0x2a]), ErrorCodes.ValidationFailed);
        await Refused("resource:leave", Map(("resourceId", 7), ("requestId", "l1")), ErrorCodes.ValidationFailed);
        await Refused("resource:leave", Map(("resourceId", NotUtf8), ("requestId", "l2")), ErrorCodes.ValidationFailed);
        await Refused("resource:update", Map(("resourceId", doc), ("field", "f"), ("revision", double.NaN), ("value", "v")), ErrorCodes.ValidationFailed);
        // Bytes: too large, not an update, a str that is not base64, missing.
        await Refused("doc:update", Map(("resourceId", doc), ("update", new byte[1001])), ErrorCodes.PayloadTooLarge);
        await Refused("doc:update", Map(("resourceId", doc), ("update", new byte[] { 0x01, 0xff, 0xff, 0xff, 0x7f, 0x09 })), ErrorCodes.InvalidUpdate);
        await Refused("doc:update", Map(("resourceId", doc), ("update", "***")), ErrorCodes.InvalidUpdate);
        await Refused("doc:update", Map(("resourceId", doc), ("update", Array.Empty<byte>())), ErrorCodes.ValidationFailed);

        // Nesting deeper than the JSON protocol allows, and a key that is not a string: SignalR's own binding error.
        var deep = new byte[200];
        Array.Fill(deep, (byte)0x91); // [[[[...
        deep[^1] = 0xc0;
        await Assert.ThrowsAsync<HubException>(() => a.InvokeAsync<Raw>("resource:update",
            Map(("resourceId", doc), ("field", "f"), ("revision", 0), ("value", new Frame(deep)))));
        await Assert.ThrowsAsync<HubException>(() => a.InvokeAsync<Raw>("heartbeat", new Frame([0x81, 0x90, 0xc0])));
        // A map that promises more entries than the frame holds: the same, the frame's length bounds the damage.
        await Assert.ThrowsAsync<HubException>(() => a.InvokeAsync<Raw>("heartbeat", new Frame([0x8f, 0xa1, (byte)'a'])));

        // Still connected, still answering.
        Assert.Equal(true, (await a.InvokeAsync<Raw>("heartbeat", Map(("requestId", "h-last")))).Map["success"]);
        Assert.Equal(HubConnectionState.Connected, a.State);
    }
}
