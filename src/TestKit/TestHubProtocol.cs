using CollabAkka.Web.Hubs;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.TestKit;

/// <summary>
/// The hub protocol of every <see cref="CollabTestClient"/>: JSON, or MessagePack when
/// <c>COLLAB_TEST_HUB_PROTOCOL=messagepack</c> (scripts/test.sh runs Gateway.Tests once more that way). Tests read
/// the same <see cref="System.Text.Json.JsonElement"/>s on both: bin arrives as base64, and the top-level
/// <c>update</c>/<c>stateVector</c> base64 strings a test sends travel as bin (a string that is not base64, as
/// the refusal tests send, stays a string).
/// </summary>
public static class TestHubProtocol
{
    public const string Variable = "COLLAB_TEST_HUB_PROTOCOL";

    public static bool IsMessagePack { get; } =
        string.Equals(Environment.GetEnvironmentVariable(Variable), "messagepack", StringComparison.OrdinalIgnoreCase);

    public static string Name => IsMessagePack ? "messagepack" : "json";

    public static IHubConnectionBuilder Apply(IHubConnectionBuilder builder) => IsMessagePack
        ? builder.AddMessagePackProtocol(o => o.SerializerOptions = WireMessagePack.ClientOptions(static name => name is "update" or "stateVector"))
        : builder;
}
