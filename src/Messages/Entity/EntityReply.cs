using CollabAkka.Messages.Wire;

namespace CollabAkka.Messages.Entity;

/// <summary>
/// What an entity answers. Expected refusals are values (<see cref="Error"/> with a stable code),
/// not exceptions; exceptions are for bugs and I/O faults.
/// </summary>
public sealed record EntityReply(object? Data, ApiError? Error = null, long? NewRevision = null)
{
    public bool Success => Error is null;

    public static EntityReply Ok(object? data = null, long? newRevision = null) => new(data, null, newRevision);

    public static EntityReply Refuse(string code, string message, object? details = null) =>
        new(null, new ApiError(code, message, details));
}

/// <summary>Entity state as seen over HTTP by operators.</summary>
public sealed record ResourceStateView(
    string ResourceId,
    string RootResourceId,
    long Revision,
    IReadOnlyList<SubResourceUsers> Resources,
    IReadOnlyList<LockView> Locks,
    int TotalUsers);
