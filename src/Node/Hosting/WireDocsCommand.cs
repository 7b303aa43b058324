using System.Text.Json;
using System.Text.Json.Nodes;
using CollabAkka.Web.Http;
using YamlDotNet.Serialization;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// <c>CollabAkka.Node wire-docs [dir]</c>: writes the generated hub contract, <c>asyncapi.yaml</c> (AsyncAPI 3.0) and
/// <c>wire-types.d.ts</c> (TypeScript), into <c>dir</c> (default <c>docs</c>). A test fails when the committed files
/// differ from what the records generate, so they are regenerated whenever a message record changes.
/// </summary>
public static class WireDocsCommand
{
    public const string Name = "wire-docs";
    public const string AsyncApiFile = "asyncapi.yaml";
    public const string TypeScriptFile = "wire-types.d.ts";

    public static int Run(string[] args)
    {
        var dir = args.Length > 0 ? args[0] : "docs";
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, AsyncApiFile), AsyncApiYaml());
        File.WriteAllText(Path.Combine(dir, TypeScriptFile), WireDocuments.TypeScript());
        Console.WriteLine($"wrote {Path.Combine(dir, AsyncApiFile)} and {Path.Combine(dir, TypeScriptFile)}");
        return 0;
    }

    public static string AsyncApiYaml() =>
        "# Generated from the C# message records (CollabAkka.Node wire-docs); served as JSON at /asyncapi.json. Do not edit.\n" +
        new SerializerBuilder().Build().Serialize(Plain(WireDocuments.AsyncApi()));

    private static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => Plain(p.Value)),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonValue v => v.ToJsonString(),
        _ => node.ToJsonString(),
    };
}
