// Serializer candidates for messages that cross nodes (issue 10): our System.Text.Json serializer, Akka's default
// (Newtonsoft JSON, what Akka uses for user messages unless told otherwise) and MessagePack (typeless, because our
// members are polymorphic). Google.Protobuf restores too but needs a .proto schema and generated classes per record;
// it is not measured here. Representative messages: a doc:update envelope (the hot path), a join reply with users
// and locks, and an event broadcast to one node.
//
//   dotnet run -c Release --project bench/Serialization.Bench [-- --iterations N]
using System.Diagnostics;
using Akka.Actor;
using Akka.Serialization;
using CollabAkka.Entities.Serialization;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;

var iterations = args.Length > 1 && args[0] == "--iterations" ? int.Parse(args[1]) : 200_000;
using var system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
var ext = (ExtendedActorSystem)system;
var ours = new CollabMessageSerializer(ext);
var newtonsoft = new NewtonSoftJsonSerializer(ext);
var t0 = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
var member = new MemberInfo("conn-0123456789", "sess-0123456789", "u-42", "Dr. Sarah Smith", "doctor", "node-a", "10.1.2.3", "Mozilla/5.0");
var update = new byte[48];
Random.Shared.NextBytes(update);
var users = Enumerable.Range(0, 5).Select(i => new PresenceUser($"u{i}", $"Dr. User {i}", "doctor", i == 0 ? "editor" : "viewer", t0, $"s{i}")).ToList();
var lockView = new LockView("0190f0c2a1b27c3d", "document:123/tab:plan", new LockHolder("u0", "Dr. User 0"), t0, t0.AddMinutes(5), 17, 300);
object[] messages =
[
    new EntityEnvelope(ResourceId.Parse("document:123/tab:plan"), "req-42", new ApplyDocumentUpdate(ResourceId.Parse("document:123/tab:plan"), member, update)),
    new EntityReply(new JoinResult("document:123/tab:plan", "document:123", "editor", "editor", null, users, 12, lockView, null, [lockView]), null, 12),
    new EntityBroadcast([new Recipient("node-a", "c1"), new Recipient("node-a", "c2"), new Recipient("node-a", "c3")],
        new EntityEvent("doc:update", "document:123/tab:plan", new DocUpdatePayload(Convert.ToBase64String(update), "s0"), new TriggeredBy("u0", "Dr. User 0", "doc:update"), 12, t0)),
];
Console.WriteLine($"| message | serializer | bytes | serialize+deserialize ns/op | alloc B/op |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var message in messages)
{
    var manifest = ours.Manifest(message);
    Run(message, "System.Text.Json (ours)", () => ours.FromBinary(ours.ToBinary(message), manifest), () => ours.ToBinary(message).Length);
    Run(message, "Newtonsoft (Akka default)", () => newtonsoft.FromBinary(newtonsoft.ToBinary(message), message.GetType()), () => newtonsoft.ToBinary(message).Length);
    Run(message, "MessagePack typeless", () => MessagePack.MessagePackSerializer.Typeless.Deserialize(MessagePack.MessagePackSerializer.Typeless.Serialize(message)),
        () => MessagePack.MessagePackSerializer.Typeless.Serialize(message).Length);
}

void Run(object message, string name, Func<object?> roundTrip, Func<int> size)
{
    try
    {
        for (var i = 0; i < iterations / 10; i++) roundTrip();
        var alloc = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++) roundTrip();
        sw.Stop();
        alloc = GC.GetAllocatedBytesForCurrentThread() - alloc;
        Console.WriteLine($"| {message.GetType().Name} | {name} | {size()} | {sw.Elapsed.TotalNanoseconds / iterations:0} | {alloc / iterations} |");
    }
    catch (Exception ex)
    {
        Console.WriteLine($"| {message.GetType().Name} | {name} | - | fails: {ex.GetType().Name}: {ex.Message.Split('\n')[0]} | |");
    }
}
