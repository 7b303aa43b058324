using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CollabAkka.Messages;
using CollabAkka.Messages.Wire;

namespace CollabAkka.Web.Http;

/// <summary>
/// The hub's machine-readable contract, generated from <see cref="WireCatalog"/> and the message records by reflection
/// (never written by hand): an AsyncAPI 3.0 document (served at <c>/asyncapi.json</c>, written to
/// <c>docs/asyncapi.yaml</c> by <c>CollabAkka.Node wire-docs</c>) and TypeScript declarations of the same records
/// (<c>docs/wire-types.d.ts</c>). Property names are the JSON names (camelCase); a property is required unless it is
/// nullable; a property ignored when null is optional.
/// </summary>
public static class WireDocuments
{
    private const string Channel = "collab";
    private static readonly JsonNamingPolicy Naming = JsonNamingPolicy.CamelCase;

    /// <summary>The AsyncAPI id of a method or event name (<c>lock:force-release</c> → <c>lock.force-release</c>).</summary>
    public static string Id(string name) => name.Replace(':', '.');

    public static JsonObject AsyncApi()
    {
        var schemas = new SortedDictionary<string, JsonNode>(StringComparer.Ordinal);
        var generator = new SchemaGenerator(schemas);
        var channelMessages = new JsonObject();
        var messages = new JsonObject();
        var operations = new JsonObject();

        void AddMessage(string id, string name, string summary, JsonNode payload)
        {
            messages[id] = new JsonObject { ["name"] = name, ["title"] = name, ["summary"] = summary, ["contentType"] = "application/json", ["payload"] = payload };
            channelMessages[id] = new JsonObject { ["$ref"] = $"#/components/messages/{id}" };
        }

        generator.Ref(typeof(ApiResponse));
        generator.Ref(typeof(ApiBroadcast));
        foreach (var method in WireCatalog.Methods)
        {
            var id = Id(method.Name);
            AddMessage(id, method.Name, method.Summary, generator.Ref(method.Request));
            var reply = $"{id}.reply";
            var response = new JsonObject
            {
                ["allOf"] = new JsonArray(generator.Ref(typeof(ApiResponse)), new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject { ["data"] = method.Result is null ? new JsonObject() : generator.Ref(method.Result) },
                }),
            };
            AddMessage(reply, $"{method.Name} reply", $"The ApiResponse to {method.Name}.", response);
            operations[id] = new JsonObject
            {
                ["action"] = "receive",
                ["title"] = method.Name,
                ["summary"] = method.Summary,
                ["channel"] = new JsonObject { ["$ref"] = $"#/channels/{Channel}" },
                ["messages"] = new JsonArray(new JsonObject { ["$ref"] = $"#/channels/{Channel}/messages/{id}" }),
                ["reply"] = new JsonObject
                {
                    ["channel"] = new JsonObject { ["$ref"] = $"#/channels/{Channel}" },
                    ["messages"] = new JsonArray(new JsonObject { ["$ref"] = $"#/channels/{Channel}/messages/{reply}" }),
                },
            };
        }
        foreach (var ev in WireCatalog.Events)
        {
            var id = $"event.{Id(ev.Name)}";
            JsonNode payload = ev.Broadcast
                ? new JsonObject
                {
                    ["allOf"] = new JsonArray(generator.Ref(typeof(ApiBroadcast)), new JsonObject
                    {
                        ["type"] = "object",
                        ["properties"] = new JsonObject { ["event"] = new JsonObject { ["const"] = ev.Name }, ["payload"] = generator.Ref(ev.Payload) },
                    }),
                }
                : generator.Ref(ev.Payload);
            AddMessage(id, ev.Name, ev.Summary, payload);
            operations[id] = new JsonObject
            {
                ["action"] = "send",
                ["title"] = ev.Name,
                ["summary"] = ev.Summary,
                ["channel"] = new JsonObject { ["$ref"] = $"#/channels/{Channel}" },
                ["messages"] = new JsonArray(new JsonObject { ["$ref"] = $"#/channels/{Channel}/messages/{id}" }),
            };
        }
        schemas["ErrorCode"] = new JsonObject
        {
            ["type"] = "string",
            ["description"] = "Stable, machine-readable error codes (also the `code` of HTTP problem details).",
            ["enum"] = new JsonArray([.. ErrorCodes.All.Select(c => (JsonNode)JsonValue.Create(c))]),
        };
        var schemaObject = new JsonObject();
        foreach (var (name, schema) in schemas)
        {
            schemaObject[name] = schema;
        }
        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = "CollabAkka hub",
                ["version"] = CollabEndpoints.ProductVersion,
                ["description"] = "SignalR hub (JSON protocol) at /hubs/collab; the token is passed as access_token. Every invocation takes one JSON object " +
                                  "and answers an ApiResponse; events are sent as the SignalR method of the same name. Generated from the message records; see docs/PROTOCOL.md.",
            },
            ["defaultContentType"] = "application/json",
            ["servers"] = new JsonObject
            {
                ["node"] = new JsonObject { ["host"] = "127.0.0.1:5000", ["protocol"] = "ws", ["pathname"] = "/hubs/collab", ["description"] = "A CollabAkka node (SignalR over WebSockets)." },
            },
            ["channels"] = new JsonObject
            {
                [Channel] = new JsonObject { ["address"] = "/hubs/collab", ["title"] = "The collaboration hub", ["messages"] = channelMessages },
            },
            ["operations"] = operations,
            ["components"] = new JsonObject { ["messages"] = messages, ["schemas"] = schemaObject },
        };
    }

    /// <summary>TypeScript declarations of every wire record, the method and event maps and the error codes.</summary>
    public static string TypeScript()
    {
        var types = new SortedDictionary<string, Type>(StringComparer.Ordinal);
        void Collect(Type t)
        {
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (Element(t) is { } element)
            {
                Collect(element);
                return;
            }
            if (IsRecord(t) && types.TryAdd(t.Name, t))
            {
                foreach (var p in Properties(t))
                {
                    Collect(p.PropertyType);
                }
            }
        }
        Collect(typeof(ApiResponse));
        Collect(typeof(ApiBroadcast));
        foreach (var m in WireCatalog.Methods)
        {
            Collect(m.Request);
            if (m.Result is not null)
            {
                Collect(m.Result);
            }
        }
        foreach (var e in WireCatalog.Events)
        {
            Collect(e.Payload);
        }
        var sb = new StringBuilder();
        sb.Append("// Generated from the C# message records by `dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll wire-docs docs` — do not edit.\n");
        sb.Append("// The widget's wire types are built from this file (src/Widget/src/provider/types.ts imports it as @collab/wire-types):\n");
        sb.Append("// a change the widget does not follow fails tests/browser/typecheck.test.mjs; WireDocumentTests fails when it is stale.\n\n");
        sb.Append("export type ErrorCode =\n").Append(string.Join("\n", ErrorCodes.All.Select(c => $"  | '{c}'"))).Append(";\n\n");
        foreach (var (name, type) in types)
        {
            var generic = type == typeof(ApiBroadcast) ? "<TPayload = unknown>" : "";
            sb.Append($"export interface {name}{generic} {{\n");
            foreach (var p in Properties(type))
            {
                var (optional, nullable) = Optionality(p);
                var ts = type == typeof(ApiBroadcast) && p.Name == nameof(ApiBroadcast.Payload) ? "TPayload"
                    : type == typeof(ApiError) && p.Name == nameof(ApiError.Code) ? "ErrorCode"
                    : Ts(p.PropertyType);
                sb.Append($"  {JsonName(p)}{(optional || nullable ? "?" : "")}: {ts}{(nullable && !optional ? " | null" : "")};\n");
            }
            sb.Append("}\n\n");
        }
        sb.Append("/** Client-to-server hub methods: request and the type of ApiResponse.data. */\nexport interface CollabMethods {\n");
        foreach (var m in WireCatalog.Methods)
        {
            sb.Append($"  '{m.Name}': {{ request: {m.Request.Name}; result: {(m.Result is null ? "unknown" : m.Result.Name)} }};\n");
        }
        sb.Append("}\n\n/** Server-to-client events and their bodies. */\nexport interface CollabEvents {\n");
        foreach (var e in WireCatalog.Events)
        {
            sb.Append($"  '{e.Name}': {(e.Broadcast ? $"ApiBroadcast<{e.Payload.Name}>" : e.Payload.Name)};\n");
        }
        sb.Append("}\n\nexport type CollabMethodName = keyof CollabMethods;\nexport type CollabEventName = keyof CollabEvents;\n");
        return sb.ToString();
    }

    private static string Ts(Type t)
    {
        var underlying = Nullable.GetUnderlyingType(t);
        if (underlying is not null)
        {
            return Ts(underlying);
        }
        if (t == typeof(string) || t == typeof(DateTimeOffset) || t == typeof(DateTime))
        {
            return "string";
        }
        if (t == typeof(bool))
        {
            return "boolean";
        }
        if (t == typeof(int) || t == typeof(long) || t == typeof(double) || t == typeof(float) || t == typeof(decimal))
        {
            return "number";
        }
        if (Dictionary(t) is { } value)
        {
            return $"Record<string, {Ts(value)}>";
        }
        if (Element(t) is { } element)
        {
            return $"{Ts(element)}[]";
        }
        return IsRecord(t) ? t.Name : "unknown";
    }

    internal static IEnumerable<PropertyInfo> Properties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetMethod is not null && p.GetCustomAttribute<JsonIgnoreAttribute>() is not { Condition: JsonIgnoreCondition.Always })
            .OrderBy(p => p.MetadataToken);

    internal static string JsonName(PropertyInfo p) => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? Naming.ConvertName(p.Name);

    private static readonly NullabilityInfoContext NullabilityContext = new();

    /// <summary>(optional: may be absent, nullable: may be null).</summary>
    internal static (bool Optional, bool Nullable) Optionality(PropertyInfo p)
    {
        var nullable = Nullable.GetUnderlyingType(p.PropertyType) is not null ||
                       (!p.PropertyType.IsValueType && NullabilityContext.Create(p).ReadState == NullabilityState.Nullable);
        var ignoredWhenNull = p.GetCustomAttribute<JsonIgnoreAttribute>() is { Condition: JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault };
        return (ignoredWhenNull, nullable);
    }

    internal static bool IsRecord(Type t) =>
        t.IsClass && t != typeof(string) && t.Namespace?.StartsWith("CollabAkka.Messages", StringComparison.Ordinal) == true;

    internal static Type? Element(Type t)
    {
        if (t.IsArray)
        {
            return t.GetElementType();
        }
        if (t.IsGenericType && t.GetGenericArguments().Length == 1 && typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
        {
            return t.GetGenericArguments()[0];
        }
        return null;
    }

    internal static Type? Dictionary(Type t) =>
        t.IsGenericType && t.GetGenericArguments() is [var key, var value] && key == typeof(string) &&
        t.GetInterfaces().Append(t).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
            ? value : null;

    /// <summary>JSON Schema (AsyncAPI Schema: JSON Schema draft 7) for records, collected under components/schemas.</summary>
    private sealed class SchemaGenerator(SortedDictionary<string, JsonNode> schemas)
    {
        public JsonObject Ref(Type t)
        {
            if (!schemas.ContainsKey(t.Name))
            {
                schemas[t.Name] = new JsonObject(); // placeholder: recursion-safe
                schemas[t.Name] = Describe(t);
            }
            return new JsonObject { ["$ref"] = $"#/components/schemas/{t.Name}" };
        }

        private JsonObject Describe(Type t)
        {
            var properties = new JsonObject();
            var required = new JsonArray();
            foreach (var p in Properties(t))
            {
                var (optional, nullable) = Optionality(p);
                var schema = t == typeof(ApiError) && p.Name == nameof(ApiError.Code)
                    ? new JsonObject { ["$ref"] = "#/components/schemas/ErrorCode" }
                    : Schema(p.PropertyType);
                properties[JsonName(p)] = nullable ? new JsonObject { ["oneOf"] = new JsonArray(schema, new JsonObject { ["type"] = "null" }) } : schema;
                if (!optional && !nullable)
                {
                    required.Add(JsonName(p));
                }
            }
            var result = new JsonObject { ["type"] = "object", ["properties"] = properties };
            if (required.Count > 0)
            {
                result["required"] = required;
            }
            return result;
        }

        private JsonObject Schema(Type t)
        {
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (t == typeof(string))
            {
                return new JsonObject { ["type"] = "string" };
            }
            if (t == typeof(DateTimeOffset) || t == typeof(DateTime))
            {
                return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
            }
            if (t == typeof(bool))
            {
                return new JsonObject { ["type"] = "boolean" };
            }
            if (t == typeof(int) || t == typeof(long))
            {
                return new JsonObject { ["type"] = "integer" };
            }
            if (t == typeof(double) || t == typeof(float) || t == typeof(decimal))
            {
                return new JsonObject { ["type"] = "number" };
            }
            if (Dictionary(t) is { } value)
            {
                return new JsonObject { ["type"] = "object", ["additionalProperties"] = Schema(value) };
            }
            if (Element(t) is { } element)
            {
                return new JsonObject { ["type"] = "array", ["items"] = Schema(element) };
            }
            return IsRecord(t) ? Ref(t) : new JsonObject(); // JsonElement, object: any JSON
        }
    }
}
