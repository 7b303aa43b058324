namespace CollabAkka.Yjs;

/// <summary>
/// Thrown when bytes handed to the engine are not a well-formed Yjs v1 update, state vector or
/// lib0 value (truncated input, out-of-range integers, invalid UTF-8 or JSON, unknown tags, ...).
/// A document that receives such an update is left exactly as it was.
/// </summary>
public sealed class YjsDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public YjsDecodeException() : base("Malformed Yjs update.") { }

    /// <summary>Creates the exception with a message.</summary>
    public YjsDecodeException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public YjsDecodeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Byte offset in the input at which decoding failed, or -1 when not known.</summary>
    public int Offset { get; init; } = -1;
}
