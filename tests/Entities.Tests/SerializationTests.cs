using System.Collections;
using System.Reflection;
using System.Text.Json;
using Akka.Serialization;
using CollabAkka.Entities.Serialization;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Entities.Tests;

/// <summary>
/// Every message type that may cross a node goes through the serializer the node configures (never Akka's default),
/// and comes back equal: commands in envelopes, reply data in replies, event payloads in broadcasts, error details in
/// refusals. The list is discovered from the assemblies, so a new record cannot be forgotten.
/// </summary>
public sealed class SerializationTests() : Akka.TestKit.Xunit2.TestKit(EntityHarness.Config)
{
    public static TheoryData<string> MessageTypes()
    {
        var data = new TheoryData<string>();
        foreach (var type in CollabMessageTypes.All)
        {
            data.Add(type.Name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void EveryMessageTypeRoundTripsThroughTheConfiguredSerializer(string typeName)
    {
        var type = CollabMessageTypes.TypeOf(typeName);
        var sample = Samples.Create(type);
        object carrier = sample switch
        {
            ICollabMessage message => message,
            IEntityCommand command => new EntityEnvelope(ResourceId.Parse("document:1/tab:a"), "corr-1", command),
            IReplyData data => new EntityReply(data, null, 3),
            IEventPayload payload => new EntityBroadcast([new Recipient("node-a", "conn-1")],
                new EntityEvent("lock:acquired", "document:1/tab:a", payload, new TriggeredBy("u", "U", "lock:acquire"), 2, Samples.Time)),
            IErrorDetails details => EntityReply.Refuse(ErrorCodes.LockHeld, "held", details),
            _ => throw new InvalidOperationException($"{typeName} has no carrier."),
        };

        var serializer = Sys.Serialization.FindSerializerFor(carrier);
        Assert.IsType<CollabMessageSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, carrier);
        var bytes = serializer.ToBinary(carrier);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.IsType(carrier.GetType(), back);
        Assert.Equal(JsonSerializer.Serialize(carrier, carrier.GetType(), CollabMessageTypes.Options),
            JsonSerializer.Serialize(back, back.GetType(), CollabMessageTypes.Options));
        Assert.Contains(typeName, JsonSerializer.Serialize(carrier, carrier.GetType(), CollabMessageTypes.Options) + carrier.GetType().Name,
            StringComparison.Ordinal); // the nested record is really in there, under its own discriminator
    }

    [Fact]
    public void TheRegistryCoversTheMessagesTheHubAndEntitiesExchange()
    {
        string[] expected = [nameof(EntityEnvelope), nameof(EntityReply), nameof(EntityBroadcast), nameof(JoinResource), nameof(ApplyDocumentUpdate),
            nameof(JoinResult), nameof(DocSyncResult), nameof(LockView), nameof(AllUsersPayload), nameof(LockHeldDetails), nameof(StaleRevisionDetails)];
        Assert.All(expected, name => Assert.Contains(name, CollabMessageTypes.All.Select(t => t.Name)));
    }
}

/// <summary>Builds a sample of any message record: every constructor parameter gets a non-default value.</summary>
internal static class Samples
{
    public static readonly DateTimeOffset Time = new(2026, 3, 1, 8, 30, 15, 123, TimeSpan.Zero);

    public static object Create(Type type, int depth = 0)
    {
        if (depth > 14)
        {
            throw new InvalidOperationException($"{type} nests too deeply for a sample.");
        }
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
        {
            return Create(underlying, depth);
        }
        if (type == typeof(string)) return "s-" + depth;
        if (type == typeof(int)) return 7;
        if (type == typeof(long)) return 42L;
        if (type == typeof(double)) return 1.5;
        if (type == typeof(bool)) return true;
        if (type == typeof(DateTimeOffset)) return Time;
        if (type == typeof(TimeSpan)) return TimeSpan.FromSeconds(90);
        if (type == typeof(byte[])) return new byte[] { 1, 2, 3, 250 };
        if (type == typeof(ResourceId)) return ResourceId.Parse("document:1/tab:a");
        if (type == typeof(RawJson)) return new RawJson("""{"a":[1,"x",null]}""");
        if (type == typeof(object)) return "value";
        if (type.IsEnum) return Enum.GetValues(type).GetValue(Enum.GetValues(type).Length - 1)!;
        if (type.IsArray)
        {
            var array = Array.CreateInstance(type.GetElementType()!, 1);
            array.SetValue(Create(type.GetElementType()!, depth + 1), 0);
            return array;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var generic &&
            (generic == typeof(IReadOnlyList<>) || generic == typeof(IList<>) || generic == typeof(List<>) || generic == typeof(IReadOnlyCollection<>) || generic == typeof(IEnumerable<>)))
        {
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(type.GetGenericArguments()[0]))!;
            list.Add(Create(type.GetGenericArguments()[0], depth + 1));
            return list;
        }
        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) || type.GetGenericTypeDefinition() == typeof(Dictionary<,>)))
        {
            var args = type.GetGenericArguments();
            var dict = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(args))!;
            dict.Add(Create(args[0], depth + 1), Create(args[1], depth + 1));
            return dict;
        }
        if (type.IsInterface)
        {
            var implementation = CollabMessageTypes.All.First(t => type.IsAssignableFrom(t) && t.GetConstructors().Length > 0 && t != typeof(EntityEnvelope));
            return Create(implementation, depth + 1);
        }
        var ctor = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance).OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        if (ctor is null)
        {
            return type.GetField("Instance", BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
                   ?? Activator.CreateInstance(type)!;
        }
        return ctor.Invoke(ctor.GetParameters().Select(p => Create(p.ParameterType, depth + 1)).ToArray());
    }
}
