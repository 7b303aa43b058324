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
}
