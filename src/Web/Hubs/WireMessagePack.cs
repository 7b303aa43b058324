using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using CollabAkka.Messages;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// The MessagePack hub protocol's serializer options: what a MessagePack client sends and reads is the JSON
/// contract with bytes as <c>bin</c> (docs/PROTOCOL.md §1).
/// <list type="bullet">
/// <item>Arguments (<see cref="JsonElement"/>, every hub method's one parameter) are read by
/// <see cref="MessagePackJson.ReadElement"/>, so the hub validates them like JSON.</item>
/// <item>Results and events are written from their System.Text.Json contract (<see cref="WireMessagePackWriter"/>):
/// the same camelCase names and omitted fields as JSON, never MessagePack-CSharp's contractless PascalCase;
/// <see cref="WireBytesAttribute"/> strings as <c>bin</c>; <see cref="RawJson"/> and JSON values as MessagePack values.</item>
/// </list>
/// </summary>
public static class WireMessagePack
{
    /// <summary>For <c>AddMessagePackProtocol(o => o.SerializerOptions = ...)</c> on the server.</summary>
    public static MessagePackSerializerOptions ServerOptions { get; } = MessagePackSerializerOptions.Standard
        .WithResolver(new Resolver(bytesProperty: null))
        .WithSecurity(MessagePackSecurity.UntrustedData);

    /// <summary>
    /// For a .NET client that works with <see cref="JsonElement"/>s (the TestKit): answers and events are read as the
    /// JSON a JSON client sees (bin as base64), arguments are sent as maps with the base64 strings of the properties
    /// <paramref name="bytesProperty"/> names as <c>bin</c>.
    /// </summary>
    public static MessagePackSerializerOptions ClientOptions(Func<string, bool> bytesProperty) => MessagePackSerializerOptions.Standard
        .WithResolver(new Resolver(bytesProperty))
        .WithSecurity(MessagePackSecurity.UntrustedData);

    private sealed class Resolver(Func<string, bool>? bytesProperty) : IFormatterResolver
    {
        private readonly ConcurrentDictionary<Type, object> _formatters = new();

        public IMessagePackFormatter<T>? GetFormatter<T>() =>
            (IMessagePackFormatter<T>)_formatters.GetOrAdd(typeof(T), static (type, bytes) => type == typeof(JsonElement)
                ? new JsonElementFormatter(bytes)
                : new WireFormatter<T>(), bytesProperty);
    }

    private sealed class JsonElementFormatter(Func<string, bool>? bytesProperty) : IMessagePackFormatter<JsonElement>
    {
        public JsonElement Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
            MessagePackJson.ReadElement(ref reader, anyBinAsBase64: bytesProperty is not null); // a client: bin is only ever data

        public void Serialize(ref MessagePackWriter writer, JsonElement value, MessagePackSerializerOptions options) =>
            MessagePackJson.WriteElement(ref writer, value, bytesProperty);
    }

    /// <summary>Writes any wire type from its JSON contract; reading other types than JsonElement is MessagePack-CSharp's.</summary>
    private sealed class WireFormatter<T> : IMessagePackFormatter<T>
    {
        public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
            ContractlessStandardResolver.Instance.GetFormatterWithVerify<T>().Deserialize(ref reader, options);

        public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options) =>
            WireMessagePackWriter.Write(ref writer, value, 0);
    }
}

/// <summary>Writes an object as MessagePack following its System.Text.Json contract (web defaults: camelCase).</summary>
public static class WireMessagePackWriter
{
    private const int MaxDepth = 64;

    /// <summary>The JSON hub protocol's payload contract (web defaults); read-only, so its metadata can be asked for.</summary>
    public static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        options.MakeReadOnly();
        return options;
    }

    private static readonly ConcurrentDictionary<Type, Plan> Plans = new();

    public static void Write(ref MessagePackWriter writer, object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new MessagePackSerializationException($"A wire object is nested deeper than {MaxDepth} levels.");
        }
        switch (value)
        {
            case null:
                writer.WriteNil();
                return;
            case string text:
                writer.Write(text);
                return;
            case bool flag:
                writer.Write(flag);
                return;
            case int number:
                writer.Write(number);
                return;
            case long number:
                writer.Write(number);
                return;
            case double number when double.IsFinite(number):
                writer.Write(number);
                return;
            case byte[] bytes:
                writer.Write(bytes);
                return;
            case RawJson raw:
                using (var document = JsonDocument.Parse(raw.Json ?? "null"))
                {
                    MessagePackJson.WriteElement(ref writer, document.RootElement);
                }
                return;
            case JsonElement element:
                MessagePackJson.WriteElement(ref writer, element);
                return;
            case DateTimeOffset time:
                // Every answer and event has one: its JSON text without a JsonDocument.
                var iso = JsonSerializer.SerializeToUtf8Bytes(time, Json);
                writer.WriteString(iso.AsSpan(1, iso.Length - 2));
                return;
        }
        var plan = Plans.GetOrAdd(value.GetType(), Build);
        switch (plan.Kind)
        {
            case JsonTypeInfoKind.Object:
                WriteObject(ref writer, value, plan, depth);
                return;
            case JsonTypeInfoKind.Enumerable when value is IEnumerable items:
                var list = items as ICollection ?? items.Cast<object?>().ToList();
                writer.WriteArrayHeader(list.Count);
                foreach (var item in list)
                {
                    Write(ref writer, item, depth + 1);
                }
                return;
            default:
                // Dictionaries, DateTimeOffset, enums, types with their own converter: exactly their JSON, as MessagePack.
                using (var document = JsonSerializer.SerializeToDocument(value, value.GetType(), Json))
                {
                    MessagePackJson.WriteElement(ref writer, document.RootElement);
                }
                return;
        }
    }

    private static void WriteObject(ref MessagePackWriter writer, object value, Plan plan, int depth)
    {
        var members = plan.Members;
        Span<bool> skip = members.Length <= 64 ? stackalloc bool[members.Length] : new bool[members.Length];
        var values = new object?[members.Length];
        var count = 0;
        for (var i = 0; i < members.Length; i++)
        {
            var member = members[i];
            var v = member.Get(value);
            values[i] = v;
            skip[i] = (v is null && member.IgnoreNull) || (member.ShouldSerialize is { } should && !should(value, v));
            if (!skip[i])
            {
                count++;
            }
        }
        writer.WriteMapHeader(count);
        for (var i = 0; i < members.Length; i++)
        {
            if (skip[i])
            {
                continue;
            }
            writer.WriteRaw(members[i].EncodedName);
            if (members[i].Bytes && values[i] is string base64)
            {
                writer.Write(Convert.FromBase64String(base64));
            }
            else
            {
                Write(ref writer, values[i], depth + 1);
            }
        }
    }

    private static Plan Build(Type type)
    {
        var info = Json.GetTypeInfo(type);
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            return new Plan(info.Kind, []);
        }
        var members = new List<Member>();
        foreach (var property in info.Properties)
        {
            if (property.Get is null || property.IsExtensionData)
            {
                continue;
            }
            var provider = property.AttributeProvider;
            var ignore = provider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), true).OfType<JsonIgnoreAttribute>().FirstOrDefault();
            if (property.CustomConverter is not null)
            {
                // A property-level converter: the whole object goes through System.Text.Json instead.
                return new Plan(JsonTypeInfoKind.None, []);
            }
            members.Add(new Member(
                EncodeName(property.Name),
                property.Get,
                property.ShouldSerialize,
                ignore?.Condition is JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault,
                provider?.IsDefined(typeof(WireBytesAttribute), true) == true));
        }
        return new Plan(JsonTypeInfoKind.Object, [.. members]);
    }

    private sealed record Plan(JsonTypeInfoKind Kind, Member[] Members);

    private sealed record Member(byte[] EncodedName, Func<object, object?> Get, Func<object, object?, bool>? ShouldSerialize, bool IgnoreNull, bool Bytes);

    /// <summary>A property name pre-encoded as a MessagePack str.</summary>
    private static byte[] EncodeName(string name)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(name.Length + 8);
        var writer = new MessagePackWriter(buffer);
        writer.Write(name);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
