using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using MessagePack;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// MessagePack ⇄ JSON for the hub's arguments. A MessagePack client's argument is turned into the same
/// <see cref="JsonElement"/> a JSON client sends, so both protocols reach the hub's one validation path
/// (<c>TryBind</c>, <c>TryBytes</c>) and get the same error codes:
/// <list type="bullet">
/// <item><c>bin</c> as the top-level <c>update</c> or <c>stateVector</c> (the byte fields of doc:sync, doc:update and
/// awareness:update) becomes a base64 string: the hub decodes it, with its size limits, like a JSON client's base64.
/// <c>bin</c> anywhere else becomes an array of byte numbers (so in a string field it is a shape error, VALIDATION_FAILED);</item>
/// <item>a <c>str</c> that is not valid UTF-8 becomes the JSON string <c>"\ud800"</c> (a lone surrogate), which the
/// hub refuses with VALIDATION_FAILED exactly as it refuses a JSON client's lone surrogate;</item>
/// <item>map keys must be <c>str</c> (an integer key becomes its decimal text); NaN and infinities become strings
/// (so a numeric field holding one is a shape error); <c>ext</c> values become null.</item>
/// </list>
/// Nesting deeper than <see cref="MaxDepth"/>, or a key of another type, throws
/// <see cref="MessagePackSerializationException"/>: SignalR then answers the invocation with its own binding error
/// and the connection stays open. Everything here is iterative in the input's size and recursive only up to
/// <see cref="MaxDepth"/>, so no frame can exhaust the stack.
/// </summary>
public static class MessagePackJson
{
    /// <summary>The JSON hub protocol's own reader depth (SignalR's, not configurable).</summary>
    public const int MaxDepth = 64;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Internal text, parsed again at once: no HTML-safe escaping needed (a JSON client may send the same unescaped).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = MaxDepth + 1,
    };

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth + 1 };

    /// <summary>
    /// Reads one MessagePack value as the JSON value a JSON client would have sent. <paramref name="anyBinAsBase64"/>: every
    /// <c>bin</c> becomes base64 (a client reading the server's answers and events, where bin is only ever base64 data).
    /// </summary>
    public static JsonElement ReadElement(ref MessagePackReader reader, bool anyBinAsBase64 = false)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteJson(ref reader, json, 0, bytesField: anyBinAsBase64, anyBinAsBase64);
        }
        var jsonReader = new Utf8JsonReader(buffer.WrittenSpan, ReaderOptions);
        return JsonElement.ParseValue(ref jsonReader);
    }

    private static void WriteJson(ref MessagePackReader reader, Utf8JsonWriter json, int depth, bool bytesField, bool anyBin)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Nil:
                reader.ReadNil();
                json.WriteNullValue();
                break;
            case MessagePackType.Boolean:
                json.WriteBooleanValue(reader.ReadBoolean());
                break;
            case MessagePackType.Integer:
                if (reader.NextCode == MessagePackCode.UInt64)
                {
                    json.WriteNumberValue(reader.ReadUInt64());
                }
                else
                {
                    json.WriteNumberValue(reader.ReadInt64());
                }
                break;
            case MessagePackType.Float:
                var number = reader.ReadDouble();
                if (double.IsFinite(number))
                {
                    json.WriteNumberValue(number);
                }
                else
                {
                    json.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
                }
                break;
            case MessagePackType.String:
                WriteText(ref reader, json, name: false);
                break;
            case MessagePackType.Binary:
                var sequence = reader.ReadBytes() ?? default;
                ReadOnlySpan<byte> bytes = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
                if (bytesField)
                {
                    json.WriteBase64StringValue(bytes);
                }
                else
                {
                    json.WriteStartArray();
                    foreach (var b in bytes)
                    {
                        json.WriteNumberValue(b);
                    }
                    json.WriteEndArray();
                }
                break;
            case MessagePackType.Array:
                Deeper(depth);
                var length = reader.ReadArrayHeader();
                json.WriteStartArray();
                for (var i = 0; i < length; i++)
                {
                    WriteJson(ref reader, json, depth + 1, bytesField: anyBin, anyBin);
                }
                json.WriteEndArray();
                break;
            case MessagePackType.Map:
                Deeper(depth);
                var count = reader.ReadMapHeader();
                json.WriteStartObject();
                for (var i = 0; i < count; i++)
                {
                    var isBytesField = false;
                    switch (reader.NextMessagePackType)
                    {
                        case MessagePackType.String:
                            isBytesField = WriteText(ref reader, json, name: true) && depth == 0;
                            break;
                        case MessagePackType.Integer:
                            json.WritePropertyName(reader.ReadInt64().ToString(CultureInfo.InvariantCulture));
                            break;
                        default:
                            throw new MessagePackSerializationException("Map keys must be strings.");
                    }
                    WriteJson(ref reader, json, depth + 1, isBytesField || anyBin, anyBin);
                }
                json.WriteEndObject();
                break;
            case MessagePackType.Extension:
                reader.ReadExtensionFormat(); // header and data, no nesting
                json.WriteNullValue();
                break;
            default:
                throw new MessagePackSerializationException($"Unexpected MessagePack code 0x{reader.NextCode:x2}.");
        }
    }

    private static void Deeper(int depth)
    {
        if (depth >= MaxDepth)
        {
            throw new MessagePackSerializationException($"The argument is nested deeper than {MaxDepth} levels.");
        }
    }

    /// <summary>Writes a str as a JSON string or property name; true when it is one of the byte fields' names.</summary>
    private static bool WriteText(ref MessagePackReader reader, Utf8JsonWriter json, bool name)
    {
        var sequence = reader.ReadStringSequence() ?? default;
        ReadOnlySpan<byte> utf8 = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
        if (Utf8.IsValid(utf8))
        {
            if (name)
            {
                json.WritePropertyName(utf8);
                return utf8.SequenceEqual("update"u8) || utf8.SequenceEqual("stateVector"u8);
            }
            json.WriteStringValue(utf8);
        }
        else if (name)
        {
            json.WritePropertyName("\uFFFD"); // matches no field: ignored like any unknown property
        }
        else
        {
            // Text that is not Unicode: handed on as a lone surrogate, which the hub refuses (VALIDATION_FAILED).
            json.WriteRawValue("\"\\ud800\""u8, skipInputValidation: true);
        }
        return false;
    }

    /// <summary>
    /// Writes a JSON value as MessagePack (maps with the JSON property names). <paramref name="bytesProperty"/>, when
    /// given, names top-level properties whose base64 strings are sent as <c>bin</c> (a string that is not base64 stays a string).
    /// </summary>
    public static void WriteElement(ref MessagePackWriter writer, JsonElement element, Func<string, bool>? bytesProperty = null)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var count = 0;
                foreach (var _ in element.EnumerateObject())
                {
                    count++;
                }
                writer.WriteMapHeader(count);
                foreach (var property in element.EnumerateObject())
                {
                    writer.Write(property.Name);
                    if (bytesProperty is not null && property.Value.ValueKind == JsonValueKind.String && bytesProperty(property.Name) &&
                        property.Value.TryGetBytesFromBase64(out var bytes))
                    {
                        writer.Write(bytes);
                    }
                    else
                    {
                        WriteElement(ref writer, property.Value);
                    }
                }
                break;
            case JsonValueKind.Array:
                writer.WriteArrayHeader(element.GetArrayLength());
                foreach (var item in element.EnumerateArray())
                {
                    WriteElement(ref writer, item);
                }
                break;
            case JsonValueKind.String:
                writer.Write(JsonText.TryGetString(element, out var text) ? text : "\uFFFD");
                break;
            case JsonValueKind.Number:
                if (element.TryGetInt64(out var integer))
                {
                    writer.Write(integer);
                }
                else if (element.TryGetUInt64(out var unsigned))
                {
                    writer.Write(unsigned);
                }
                else if (element.TryGetDouble(out var real))
                {
                    writer.Write(real);
                }
                else
                {
                    writer.Write(element.GetRawText()); // out of double's range: kept as its text
                }
                break;
            case JsonValueKind.True:
                writer.Write(true);
                break;
            case JsonValueKind.False:
                writer.Write(false);
                break;
            default:
                writer.WriteNil();
                break;
        }
    }
}
