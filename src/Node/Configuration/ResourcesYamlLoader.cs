using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CollabAkka.Entities.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CollabAkka.Node.Configuration;

/// <summary>
/// Reads <c>config/resources.yml</c> in the product specification's format (<c>resources:</c> with one entry per
/// type, per-type <c>roles</c>, <c>subResources</c> with <c>independentLocks</c>, and <c>defaults</c>), strictly:
/// every key must be known, every value of the right type and range. All problems are collected and reported
/// together, each as "file:line:column key: why", with "did you mean …?" for a misspelt key.
///
/// Our additions, in the same format: <c>gracePeriod</c> and <c>lockRequestTimeout</c> on any level, <c>canView</c> per role,
/// <c>defaults.roles</c> (permissions for every type, overridden per role by a type or sub-resource) and
/// <c>defaults.allowUnknownTypes</c>. The earlier format (<c>resourceTypes</c>, top-level <c>roles</c>,
/// <c>permissions</c>, <c>subTypes</c>, <c>description</c>) is converted, not read: its keys are refused with the
/// name that replaced them (see docs/ARCHITECTURE.md §10).
/// </summary>
public static class ResourcesYamlLoader
{
    private static readonly string[] TopKeys = ["resources", "defaults"];
    private static readonly string[] LimitKeys = ["maxConcurrentEditors", "maxViewers", "lockTTL", "heartbeatInterval", "gracePeriod", "lockRequestTimeout"];
    private static readonly string[] DefaultKeys = [.. LimitKeys, "roles", "allowUnknownTypes"];
    private static readonly string[] TypeKeys = ["displayName", .. LimitKeys, "roles", "subResources"];
    private static readonly string[] SubKeys = ["displayName", .. LimitKeys, "roles", "independentLocks"];
    private static readonly string[] PermissionKeys = ["canView", "canEdit", "canLock", "canForceRelease"];

    // Keys of the earlier format and what replaced them.
    private static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        ["resourceTypes"] = "resources",
        ["subTypes"] = "subResources",
        ["permissions"] = "roles",
        ["description"] = "displayName",
    };

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
        if (Reader.Child(root, "roles") is not null)
        {
            var node = root.Children.Keys.First(k => k is YamlScalarNode { Value: "roles" });
            reader.Error(node, "roles", "the earlier format's global roles; write them as defaults.roles (or per type under resources.<type>.roles)");
        }
        reader.CheckKeys(root, "", [.. TopKeys, "roles"]);

        var defaults = new ResourceTypeSettings();
        var allowUnknown = true;
        var roles = new Dictionary<string, RolePermissions>(StringComparer.Ordinal);
        if (Reader.Child(root, "defaults") is { } defaultsNode && reader.Mapping(defaultsNode, "defaults") is { } d)
        {
            reader.CheckKeys(d, "defaults", DefaultKeys);
            defaults = reader.Settings(d, "defaults", subResources: false);
            roles = new Dictionary<string, RolePermissions>(defaults.Permissions, StringComparer.Ordinal);
            defaults = defaults with { Permissions = new Dictionary<string, RolePermissions>() };
            allowUnknown = reader.Bool(d, "allowUnknownTypes", "defaults") ?? true;
        }

        var types = new Dictionary<string, ResourceTypeSettings>(StringComparer.Ordinal);
        if (Reader.Child(root, "resources") is { } typesNode && reader.Mapping(typesNode, "resources") is { } t)
        {
            foreach (var (keyNode, valueNode) in t.Children)
            {
                var name = ((YamlScalarNode)keyNode).Value ?? "";
                var path = $"resources.{name}";
                reader.CheckTypeName(keyNode, name, path);
                if (reader.Mapping(valueNode, path) is { } typeMap)
                {
                    reader.CheckKeys(typeMap, path, TypeKeys);
                    types[name] = reader.Settings(typeMap, path, subResources: true);
                }
            }
        }
        else if (Reader.Child(root, "resourceTypes") is null)
        {
            errors.Add($"{source}: resources: required, a mapping of resource type names to settings.");
        }

        if (errors.Count > 0)
        {
            throw new ResourceConfigException(
                $"Invalid resource configuration ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", errors));
        }
        return new ResourceCatalog(defaults, roles, types, allowUnknown, source, VersionOf(yaml));
    }

    /// <summary>The content hash a catalog reports as its version: <c>sha256:</c> and the first 16 hex digits.</summary>
    public static string VersionOf(string yaml) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(yaml ?? "")))[..16];

    /// <summary>The allowed key closest to <paramref name="key"/> (case-insensitive edit distance ≤ 2), if any.</summary>
    internal static string? Suggest(string key, IEnumerable<string> allowed)
    {
        if (Renamed.TryGetValue(key, out var renamed) && allowed.Contains(renamed))
        {
            return renamed;
        }
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in allowed)
        {
            var distance = Distance(key.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }
        return bestDistance <= Math.Min(2, Math.Max(1, key.Length / 3)) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private sealed class Reader(string source, List<string> errors)
    {
        public void Error(YamlNode node, string path, string why) =>
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
                if (allowed.Contains(name))
                {
                    continue;
                }
                var hint = Suggest(name, allowed) is { } suggestion ? $" did you mean '{suggestion}'?" : "";
                var earlier = Renamed.ContainsKey(name) ? " (a key of the earlier resources.yml format)" : "";
                Error(key, Join(path, name), $"unknown key{earlier};{hint} expected one of: {string.Join(", ", allowed)}");
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

        public ResourceTypeSettings Settings(YamlMappingNode map, string path, bool subResources)
        {
            var maxViewersSet = Child(map, "maxViewers") is not null;
            var settings = new ResourceTypeSettings
            {
                DisplayName = Child(map, "displayName") is YamlScalarNode display ? display.Value : null,
                MaxConcurrentEditors = Int(map, "maxConcurrentEditors", path, min: 1, nullable: false),
                MaxViewersSet = maxViewersSet,
                MaxViewers = Int(map, "maxViewers", path, min: 0, nullable: true),
                LockTtl = Seconds(map, "lockTTL", path, min: 5),
                HeartbeatInterval = Seconds(map, "heartbeatInterval", path, min: 1),
                GracePeriod = Seconds(map, "gracePeriod", path, min: 0),
                LockRequestTimeout = Seconds(map, "lockRequestTimeout", path, min: 1),
                IndependentLocks = Bool(map, "independentLocks", path),
            };
            if (Child(map, "displayName") is { } dn and not YamlScalarNode)
            {
                Error(dn, Join(path, "displayName"), "expected a string");
            }
            if (settings.LockTtl is { } ttl && settings.HeartbeatInterval is { } hb && hb >= ttl && Child(map, "heartbeatInterval") is { } hbNode)
            {
                Error(hbNode, Join(path, "heartbeatInterval"), $"must be shorter than lockTTL ({ttl.TotalSeconds} s), or locks expire between heartbeats");
            }
            if (Child(map, "roles") is { } rolesNode && Mapping(rolesNode, Join(path, "roles")) is { } perms)
            {
                settings = settings with { Permissions = Permissions(perms, Join(path, "roles")) };
            }
            if (subResources && Child(map, "subResources") is { } subNode && Mapping(subNode, Join(path, "subResources")) is { } subs)
            {
                var result = new Dictionary<string, ResourceTypeSettings>(StringComparer.Ordinal);
                foreach (var (keyNode, valueNode) in subs.Children)
                {
                    var name = ((YamlScalarNode)keyNode).Value ?? "";
                    var subPath = Join(path, $"subResources.{name}");
                    CheckTypeName(keyNode, name, subPath);
                    if (Mapping(valueNode, subPath) is { } subMap)
                    {
                        CheckKeys(subMap, subPath, SubKeys);
                        result[name] = Settings(subMap, subPath, subResources: false);
                    }
                }
                settings = settings with { SubTypes = result };
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
                if (role.Length is 0 or > 64 || !role.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
                {
                    Error(keyNode, rolePath, "a role name is 1-64 of A-Z a-z 0-9 . _ - @");
                }
                if (Mapping(valueNode, rolePath) is not { } roleMap)
                {
                    continue;
                }
                CheckKeys(roleMap, rolePath, PermissionKeys);
                result[role] = new RolePermissions(
                    Bool(roleMap, "canEdit", rolePath) ?? false,
                    Bool(roleMap, "canLock", rolePath) ?? false,
                    Bool(roleMap, "canForceRelease", rolePath) ?? false,
                    Bool(roleMap, "canView", rolePath) ?? true);
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
