using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;
using CollabAkka.Entities.Resources;
using CollabAkka.Messages.Entity;

namespace CollabAkka.Entities.Serialization;

/// <summary>
/// The serializer for every message that may cross a node (<see cref="ICollabMessage"/>: envelopes, replies, events):
/// System.Text.Json over the typed records of <c>src/Messages</c>, with the record's short name as manifest and
/// discriminators for the polymorphic members (commands, reply data, event payloads, error details). Chosen by
/// measurement against Akka's default (Newtonsoft) and MessagePack: see docs/PERFORMANCE.md, "Serialization".
/// </summary>
public sealed class CollabMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka serializer ids 0–40 are reserved; ours is fixed so nodes of one release agree.</summary>
    public const int Id = 7301;

    public override int Identifier => Id;

    public override byte[] ToBinary(object obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), CollabMessageTypes.Options);
    }

    public override object FromBinary(byte[] bytes, string manifest) =>
        JsonSerializer.Deserialize(bytes, CollabMessageTypes.TypeOf(manifest), CollabMessageTypes.Options)
        ?? throw new SerializationException($"Message {manifest} deserialized to null.");

    public override string Manifest(object o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return CollabMessageTypes.NameOf(o.GetType());
    }
}

/// <summary>
/// The registry of message types: every public record of the Messages and Entities assemblies that is a message,
/// a command, reply data, an event payload or error details, by its short name (names are checked unique at start).
/// </summary>
public static class CollabMessageTypes
{
    private static readonly Type[] Roles = [typeof(ICollabMessage), typeof(IEntityCommand), typeof(IReplyData), typeof(IEventPayload), typeof(IErrorDetails)];

    public static IReadOnlyList<Type> All { get; } = Discover();

    private static readonly FrozenDictionary<string, Type> ByName = All.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static Type TypeOf(string manifest) =>
        ByName.TryGetValue(manifest, out var type) ? type : throw new SerializationException($"Unknown message manifest '{manifest}'.");

    public static string NameOf(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return ByName.TryGetValue(type.Name, out var known) && known == type
            ? type.Name
            : throw new SerializationException($"{type.FullName} is not a registered message type.");
    }

    private static Type[] Discover()
    {
        var types = new[] { typeof(ICollabMessage).Assembly, typeof(HandOffStop).Assembly }
            .Distinct()
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => t is { IsAbstract: false, IsInterface: false } && Roles.Any(r => r.IsAssignableFrom(t)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToArray();
        var duplicate = types.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Message type name {duplicate.Key} is not unique: {string.Join(", ", duplicate.Select(t => t.FullName))}.");
        }
        return types;
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(info =>
        {
            if (info.Type.IsInterface && Roles.Contains(info.Type) && info.Type != typeof(ICollabMessage))
            {
                var polymorphism = new JsonPolymorphismOptions
                {
                    TypeDiscriminatorPropertyName = "$t",
                    UnknownDerivedTypeHandling = System.Text.Json.Serialization.JsonUnknownDerivedTypeHandling.FailSerialization,
                };
                foreach (var type in All.Where(info.Type.IsAssignableFrom))
                {
                    polymorphism.DerivedTypes.Add(new JsonDerivedType(type, type.Name));
                }
                info.PolymorphismOptions = polymorphism;
            }
        });
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            TypeInfoResolver = resolver,
            AllowOutOfOrderMetadataProperties = true,
            // Read only by our own nodes, never put into HTML: the default encoder would write every '+' of the
            // base64 strings (updates, state vectors) and every non-ASCII letter of a text as a six-byte \uXXXX.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.MakeReadOnly();
        return options;
    }
}

/// <summary>Thrown when bytes from another node cannot be turned back into a message.</summary>
public sealed class SerializationException(string message) : Exception(message);
