namespace CollabAkka.Entities.Routing;

/// <summary>
/// The DI key of the product's clock. Our components take <c>[FromKeyedServices(CollabTime.Key)] TimeProvider</c>
/// instead of the unkeyed one because ASP.NET itself reads the unkeyed <see cref="TimeProvider"/> (SignalR
/// keep-alive and client timeouts): a test that advances our clock by an hour must not time out every socket.
/// </summary>
public static class CollabTime
{
    public const string Key = "collab-time";
}
