using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CollabAkka.Messages;

/// <summary>
/// A hierarchical resource id: <c>type:id</c> (a root, presence only) or <c>type:id/subType:subId</c>
/// (a child of that root, lockable, with its own document). All children of a root live in the same
/// entity, so cross-tab presence and parent/child lock rules are decided in one place.
/// </summary>
[JsonConverter(typeof(ResourceIdJsonConverter))]
public readonly record struct ResourceId
{
    /// <summary>Longest accepted id, in characters (a segment is at most 32 + 1 + 128).</summary>
    public const int MaxLength = 330;

    private ResourceId(string value, int slash)
    {
        Value = value;
        _slash = slash;
    }

    private readonly int _slash;

    /// <summary>The id as written, e.g. <c>document:123/tab:diagnosis</c>.</summary>
    public string Value { get; }

    /// <summary>True for <c>type:id</c>, false for <c>type:id/subType:subId</c>.</summary>
    public bool IsRoot => _slash < 0;

    /// <summary>The root (parent) id; for a root, the id itself.</summary>
    public ResourceId Root => IsRoot ? this : new ResourceId(Value[.._slash], -1);

    /// <summary>The root's type (<c>document</c> in <c>document:123/tab:x</c>).</summary>
    public string Type => Value[..Value.IndexOf(':', StringComparison.Ordinal)];

    /// <summary>The child's type (<c>tab</c> in <c>document:123/tab:x</c>), or null for a root.</summary>
    public string? SubType
    {
        get
        {
            if (IsRoot)
            {
                return null;
            }
            var colon = Value.IndexOf(':', _slash + 1);
            return Value[(_slash + 1)..colon];
        }
    }

    /// <summary>True when <paramref name="other"/> is this id or one of its children (or its parent).</summary>
    public bool IsSameFamily(ResourceId other) => string.Equals(Root.Value, other.Root.Value, StringComparison.Ordinal);

    /// <summary>True when one of the two ids is the parent of the other.</summary>
    public bool IsParentOrChildOf(ResourceId other) =>
        IsSameFamily(other) && IsRoot != other.IsRoot;

    public override string ToString() => Value;

    /// <summary>Parses an id, or explains why it is not one.</summary>
    public static bool TryParse(string? text, out ResourceId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "resourceId is required.";
            return false;
        }
        if (text.Length > MaxLength)
        {
            error = $"resourceId is longer than {MaxLength} characters.";
            return false;
        }
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && text.IndexOf('/', slash + 1) >= 0)
        {
            error = "resourceId may have at most one level of children: 'type:id/subType:subId'.";
            return false;
        }
        if (!IsSegment(slash < 0 ? text : text[..slash], out error) ||
            (slash >= 0 && !IsSegment(text[(slash + 1)..], out error)))
        {
            error = $"resourceId '{Truncate(text)}' is not of the form 'type:id' or 'type:id/subType:subId': {error}";
            return false;
        }
        id = new ResourceId(text, slash);
        return true;
    }

    /// <summary>Parses an id that is known to be valid; throws otherwise.</summary>
    public static ResourceId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    // type: lowercase letter, then [a-z0-9-], up to 32; id: [A-Za-z0-9_.-], 1..128.
    private static bool IsSegment(string segment, [NotNullWhen(false)] out string? error)
    {
        var colon = segment.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon > 32)
        {
            error = "a type of 1 to 32 characters followed by ':' is expected";
            return false;
        }
        if (segment[0] is < 'a' or > 'z')
        {
            error = "a type starts with a lowercase letter";
            return false;
        }
        for (var i = 1; i < colon; i++)
        {
            var c = segment[i];
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                error = "a type holds only a-z, 0-9 and '-'";
                return false;
            }
        }
        var idLength = segment.Length - colon - 1;
        if (idLength is < 1 or > 128)
        {
            error = "an id of 1 to 128 characters after ':' is expected";
            return false;
        }
        for (var i = colon + 1; i < segment.Length; i++)
        {
            var c = segment[i];
            if (c is not ((>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_' or '.'))
            {
                error = "an id holds only A-Z, a-z, 0-9, '-', '_' and '.'";
                return false;
            }
        }
        error = null;
        return true;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "…");
}

/// <summary>A resource id travels as its string form and is parsed (validated) again on arrival.</summary>
public sealed class ResourceIdJsonConverter : JsonConverter<ResourceId>
{
    public override ResourceId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        ResourceId.TryParse(reader.GetString(), out var id, out var error) ? id : throw new JsonException(error);

    public override void Write(Utf8JsonWriter writer, ResourceId value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.Value);
    }
}
