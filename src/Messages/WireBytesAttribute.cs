namespace CollabAkka.Messages;

/// <summary>
/// Marks a string property that carries bytes as base64: JSON clients read the base64 string, MessagePack hub
/// protocol clients read MessagePack <c>bin</c> (docs/PROTOCOL.md §1).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class WireBytesAttribute : Attribute;
