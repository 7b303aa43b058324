using CollabAkka.TestKit;

namespace CollabAkka.Gateway.Tests;

/// <summary>One node shared by the tests of a class (each test uses its own resource ids and users).</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public CollabTestNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await CollabTestNode.StartAsync();

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

internal static class Ids
{
    public static string Unique(string prefix) => $"{prefix}{Guid.NewGuid().ToString("N")[..8]}";
}
