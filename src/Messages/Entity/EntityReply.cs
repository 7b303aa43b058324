using CollabAkka.Messages.Wire;

namespace CollabAkka.Messages.Entity;

/// <summary>
/// What an entity answers. Expected refusals are values (<see cref="Error"/> with a stable code),
/// not exceptions; exceptions are for bugs and I/O faults. Typed throughout, because it may cross nodes.
/// </summary>
public sealed record EntityReply(IReplyData? Data, EntityError? Error = null, long? NewRevision = null) : ICollabMessage
{
    public bool Success => Error is null;

    public static EntityReply Ok(IReplyData? data = null, long? newRevision = null) => new(data, null, newRevision);

    public static EntityReply Refuse(string code, string message, IErrorDetails? details = null) =>
        new(null, new EntityError(code, message, details));
}

/// <summary>A refusal as an entity gives it; <see cref="ToWire"/> is what clients see.</summary>
public sealed record EntityError(string Code, string Message, IErrorDetails? Details = null)
{
    public ApiError ToWire() => new(Code, Message, Details);
}

/// <summary>Entity state as seen over HTTP by operators, with the node that owns the entity and its ownership epoch.</summary>
public sealed record ResourceStateView(
    string ResourceId,
    string RootResourceId,
    long Revision,
    IReadOnlyList<SubResourceUsers> Resources,
    IReadOnlyList<LockView> Locks,
    int TotalUsers,
    string OwnerNodeId,
    long Epoch) : IReplyData;
