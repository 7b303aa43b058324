using System.Text.Json;
using System.Text.Json.Serialization;

namespace CollabAkka.Messages;

/// <summary>
/// A JSON value kept as its text: written verbatim, read back verbatim. Messages that cross nodes carry
/// document content and form values this way instead of a <see cref="JsonElement"/> (which needs its
/// parent document alive and has no serializer contract of its own).
/// </summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly record struct RawJson(string Json)
{
    public static RawJson From(JsonElement element) => new(element.GetRawText());

    public override string ToString() => Json;
}

public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawJson(document.RootElement.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(value.Json ?? "null", skipInputValidation: true);
    }
}
