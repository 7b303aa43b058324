namespace CollabAkka.Yjs;

/// <summary>
/// The one nesting limit of the engine. A document's depth is the number of nested containers below its
/// roots: a root type is depth 1, a type or a JSON object/array inside it one more. <see cref="YDoc"/>
/// refuses (at integration, with the document unchanged) any update that would go deeper than its
/// <see cref="YDoc.MaxDepth"/>, and the decoder refuses values nested deeper; every walk over a document
/// (JSON output, encoding, deletion, garbage collection) is therefore bounded by it. JSON readers and
/// writers that carry document content use <see cref="JsonDepth"/>, the same limit plus the envelope
/// (reply, data, document object) around it.
/// </summary>
public static class YLimits
{
    /// <summary>Default nesting limit (<c>Collab:Documents:MaxNestingDepth</c>).</summary>
    public const int DefaultMaxDepth = 32;

    /// <summary>Largest limit a document may be configured with: recursive walks stay far from the stack's end below it.</summary>
    public const int MaxSupportedDepth = 256;

    /// <summary>Levels of JSON around document content in any reply (ApiResponse → data → content → document object).</summary>
    public const int EnvelopeDepth = 16;

    /// <summary>The JSON reader/writer depth for content of documents limited to <paramref name="maxDepth"/>.</summary>
    public static int JsonDepth(int maxDepth) => CheckDepth(maxDepth) + EnvelopeDepth;

    /// <summary>Validates a configured nesting limit.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Outside 1..<see cref="MaxSupportedDepth"/>.</exception>
    public static int CheckDepth(int maxDepth) => maxDepth is >= 1 and <= MaxSupportedDepth
        ? maxDepth
        : throw new ArgumentOutOfRangeException(nameof(maxDepth), maxDepth, $"The nesting limit must be between 1 and {MaxSupportedDepth}.");
}
