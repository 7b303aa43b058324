using System.Globalization;
using CollabAkka.Entities.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CollabAkka.Node.Configuration;

/// <summary>
/// Reads <c>config/resources.yml</c> strictly: every key must be known, every value of the right type
/// and range. All problems are collected and reported together, each as "file:line:column key: why".
/// </summary>
public static class ResourcesYamlLoader
{
    private static readonly string[] TopKeys = ["defaults", "roles", "resourceTypes"];
    private static readonly string[] SettingKeys =
        ["description", "maxConcurrentEditors", "maxViewers", "lockTTL", "heartbeatInterval", "gracePeriod", "permissions", "subTypes"];
    private static readonly string[] PermissionKeys = ["canEdit", "canLock", "canForceRelease"];

    public static ResourceCatalog LoadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new ResourceConfigException($"Resource configuration file '{path}' does not exist (set Collab:ResourcesFile).");
        }
        return Load(File.ReadAllText(path), path);
    }

    public static ResourceCatalog Load(string yaml, string source)
    {
        var errors = new List<string>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new ResourceConfigException($"{source}:{ex.Start.Line}:{ex.Start.Column}: not valid YAML: {ex.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ResourceConfigException($"{source}: expected a mapping with keys {string.Join(", ", TopKeys)}.");
        }
        var reader = new Reader(source, errors);
        reader.CheckKeys(root, "", TopKeys);

        var defaults = new ResourceTypeSettings();
        var allowUnknown = true;
        if (Reader.Child(root, "defaults") is { } defaultsNode && reader.Mapping(defaultsNode, "defaults") is { } d)
        {
            reader.CheckKeys(d, "defaults", [.. SettingKeys.Where(k => k is not ("permissions" or "subTypes" or "description")), "allowUnknownTypes"]);
            defaults = reader.Settings(d, "defaults", allowSubTypes: false);
            allowUnknown = reader.Bool(d, "allowUnknownTypes", "defaults") ?? true;
        }

        var roles = new Dictionary<string, RolePermissions>(StringComparer.Ordinal);
        if (Reader.Child(root, "roles") is { } rolesNode && reader.Mapping(rolesNode, "roles") is { } r)
        {
            roles = reader.Permissions(r, "roles");
        }

        var types = new Dictionary<string, ResourceTypeSettings>(StringComparer.Ordinal);
        if (Reader.Child(root, "resourceTypes") is { } typesNode && reader.Mapping(typesNode, "resourceTypes") is { } t)
        {
            foreach (var (keyNode, valueNode) in t.Children)
            {
                var name = ((YamlScalarNode)keyNode).Value ?? "";
                var path = $"resourceTypes.{name}";
                reader.CheckTypeName(keyNode, name, path);
                if (reader.Mapping(valueNode, path) is { } typeMap)
                {
                    reader.CheckKeys(typeMap, path, SettingKeys);
                    types[name] = reader.Settings(typeMap, path, allowSubTypes: true);
                }
            }
        }
        else
        {
            errors.Add($"{source}: resourceTypes: required, a mapping of resource type names to settings.");
        }

        if (errors.Count > 0)
        {
            throw new ResourceConfigException(
                $"Invalid resource configuration ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", errors));
        }
        return new ResourceCatalog(defaults, roles, types, allowUnknown, source);
    }

    private sealed class Reader(string source, List<string> errors)
    {
        private void Error(YamlNode node, string path, string why) =>
            errors.Add($"{source}:{node.Start.Line}:{node.Start.Column}: {path}: {why}");

        public static YamlNode? Child(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

        public YamlMappingNode? Mapping(YamlNode node, string path)
        {
            if (node is YamlMappingNode map)
            {
                return map;
            }
            Error(node, path, "expected a mapping");
            return null;
        }

        public void CheckKeys(YamlMappingNode map, string path, IReadOnlyCollection<string> allowed)
        {
            foreach (var key in map.Children.Keys)
            {
                var name = (key as YamlScalarNode)?.Value ?? "?";
                if (!allowed.Contains(name))
                {
                    Error(key, Join(path, name), $"unknown key; expected one of: {string.Join(", ", allowed)}");
                }
            }
        }

        public void CheckTypeName(YamlNode node, string name, string path)
        {
            var ok = name.Length is > 0 and <= 32 && name[0] is >= 'a' and <= 'z' &&
                     name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
            if (!ok)
            {
                Error(node, path, "a type name is 1-32 of a-z, 0-9 and '-', starting with a letter");
            }
        }

        public ResourceTypeSettings Settings(YamlMappingNode map, string path, bool allowSubTypes)
        {
            var maxViewersSet = Child(map, "maxViewers") is not null;
            var settings = new ResourceTypeSettings
            {
                Description = Child(map, "description") is YamlScalarNode desc ? desc.Value : null,
                MaxConcurrentEditors = Int(map, "maxConcurrentEditors", path, min: 1, nullable: false),
                MaxViewersSet = maxViewersSet,
                MaxViewers = Int(map, "maxViewers", path, min: 0, nullable: true),
                LockTtl = Seconds(map, "lockTTL", path, min: 5),
                HeartbeatInterval = Seconds(map, "heartbeatInterval", path, min: 1),
                GracePeriod = Seconds(map, "gracePeriod", path, min: 0),
            };
            if (settings.LockTtl is { } ttl && settings.HeartbeatInterval is { } hb && hb >= ttl && Child(map, "heartbeatInterval") is { } hbNode)
            {
                Error(hbNode, Join(path, "heartbeatInterval"), $"must be shorter than lockTTL ({ttl.TotalSeconds} s), or locks expire between heartbeats");
            }
            if (Child(map, "permissions") is { } permNode && Mapping(permNode, Join(path, "permissions")) is { } perms)
            {
                settings = settings with { Permissions = Permissions(perms, Join(path, "permissions")) };
            }
            if (Child(map, "subTypes") is { } subNode)
            {
                if (!allowSubTypes)
                {
                    Error(subNode, Join(path, "subTypes"), "sub-types cannot have sub-types");
                }
                else if (Mapping(subNode, Join(path, "subTypes")) is { } subs)
                {
                    var result = new Dictionary<string, ResourceTypeSettings>(StringComparer.Ordinal);
                    foreach (var (keyNode, valueNode) in subs.Children)
                    {
                        var name = ((YamlScalarNode)keyNode).Value ?? "";
                        var subPath = Join(path, $"subTypes.{name}");
                        CheckTypeName(keyNode, name, subPath);
                        if (Mapping(valueNode, subPath) is { } subMap)
                        {
                            CheckKeys(subMap, subPath, [.. SettingKeys.Where(k => k != "subTypes")]);
                            result[name] = Settings(subMap, subPath, allowSubTypes: false);
                        }
                    }
                    settings = settings with { SubTypes = result };
                }
            }
            return settings;
        }

        public Dictionary<string, RolePermissions> Permissions(YamlMappingNode map, string path)
        {
            var result = new Dictionary<string, RolePermissions>(StringComparer.Ordinal);
            foreach (var (keyNode, valueNode) in map.Children)
            {
                var role = ((YamlScalarNode)keyNode).Value ?? "";
                var rolePath = Join(path, role);
                if (Mapping(valueNode, rolePath) is not { } roleMap)
                {
                    continue;
                }
                CheckKeys(roleMap, rolePath, PermissionKeys);
                result[role] = new RolePermissions(
                    Bool(roleMap, "canEdit", rolePath) ?? false,
                    Bool(roleMap, "canLock", rolePath) ?? false,
                    Bool(roleMap, "canForceRelease", rolePath) ?? false);
            }
            return result;
        }

        public bool? Bool(YamlMappingNode map, string key, string path)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }
            if (node is YamlScalarNode { Value: "true" or "True" })
            {
                return true;
            }
            if (node is YamlScalarNode { Value: "false" or "False" })
            {
                return false;
            }
            Error(node, Join(path, key), $"expected true or false, got '{Show(node)}'");
            return null;
        }

        public int? Int(YamlMappingNode map, string key, string path, int min, bool nullable)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }
            if (nullable && IsNull(node))
            {
                return null;
            }
            if (node is YamlScalarNode { Style: ScalarStyle.Plain } s &&
                int.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                if (value < min)
                {
                    Error(node, Join(path, key), $"must be at least {min}, got {value}");
                }
                return value;
            }
            Error(node, Join(path, key), $"expected an integer{(nullable ? " or null" : "")}, got '{Show(node)}'");
            return null;
        }

        public TimeSpan? Seconds(YamlMappingNode map, string key, string path, double min)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }
            if (node is YamlScalarNode { Style: ScalarStyle.Plain } s &&
                double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                if (value < min)
                {
                    Error(node, Join(path, key), $"must be at least {min} seconds, got {value}");
                }
                return TimeSpan.FromSeconds(value);
            }
            Error(node, Join(path, key), $"expected a number of seconds, got '{Show(node)}'");
            return null;
        }

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "null" or "~" or "Null" or "NULL" };

        private static string Show(YamlNode node) => node switch
        {
            YamlScalarNode s => s.Value ?? "null",
            YamlMappingNode => "a mapping",
            YamlSequenceNode => "a list",
            _ => node.NodeType.ToString(),
        };

        private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
    }
}
