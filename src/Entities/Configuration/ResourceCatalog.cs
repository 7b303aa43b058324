using System.Collections.Concurrent;
using CollabAkka.Messages;

namespace CollabAkka.Entities.Configuration;

/// <summary>
/// What one role may do on one resource type. <see cref="CanView"/> (join, <c>doc:sync</c>, HTTP reads) is true
/// for every role the file lists unless it says <c>canView: false</c>; a role the file does not list may do nothing.
/// </summary>
public sealed record RolePermissions(bool CanEdit, bool CanLock, bool CanForceRelease, bool CanView = true)
{
    /// <summary>A role the configuration does not know, or a token without a role: no access at all.</summary>
    public static readonly RolePermissions None = new(false, false, false, CanView: false);
}

/// <summary>
/// Settings of one type or sub-type as written in <c>config/resources.yml</c>; null means "inherit"
/// (sub-type from type, type from <c>defaults</c>).
/// </summary>
public sealed record ResourceTypeSettings
{
    public int? MaxConcurrentEditors { get; init; }
    public bool MaxViewersSet { get; init; }
    public int? MaxViewers { get; init; }
    public TimeSpan? LockTtl { get; init; }
    public TimeSpan? HeartbeatInterval { get; init; }
    public TimeSpan? GracePeriod { get; init; }

    /// <summary>How long a lock request (<c>lock:request</c>) waits for the holder's answer before the lock passes, if the holder is idle.</summary>
    public TimeSpan? LockRequestTimeout { get; init; }

    public string? DisplayName { get; init; }

    /// <summary>Sub-resources only: false puts the sub-resource in its parent's lock (see ResourceEntity.Locks).</summary>
    public bool? IndependentLocks { get; init; }

    public IReadOnlyDictionary<string, RolePermissions> Permissions { get; init; } = new Dictionary<string, RolePermissions>();
    public IReadOnlyDictionary<string, ResourceTypeSettings> SubTypes { get; init; } = new Dictionary<string, ResourceTypeSettings>();
}

/// <summary>The effective, immutable policy of one resource id; entities get this snapshot, not options.</summary>
public sealed record ResourcePolicy(
    string TypeKey,
    int MaxConcurrentEditors,
    int? MaxViewers,
    TimeSpan LockTtl,
    TimeSpan HeartbeatInterval,
    TimeSpan GracePeriod,
    IReadOnlyDictionary<string, RolePermissions> Roles,
    string? DisplayName = null,
    bool IndependentLocks = true,
    TimeSpan? LockRequestTimeout = null)
{
    /// <summary>How long a lock request waits for an answer (<c>lockRequestTimeout</c>; default 60 s).</summary>
    public TimeSpan RequestTimeout => LockRequestTimeout ?? ResourceCatalog.DefaultLockRequestTimeout;

    /// <summary>A role the configuration does not list (or an empty one) may do nothing, not even view.</summary>
    public RolePermissions For(string role) =>
        !string.IsNullOrEmpty(role) && Roles.TryGetValue(role, out var p) ? p : RolePermissions.None;
}

/// <summary>
/// The validated contents of <c>config/resources.yml</c>. Resolves the policy of a resource id:
/// sub-resource settings override type settings, which override <c>defaults</c>; role permissions merge the
/// same way (per role: a type's entry for a role replaces the default entry for it).
/// </summary>
public sealed class ResourceCatalog
{
    public const int DefaultMaxConcurrentEditors = 1;
    public static readonly TimeSpan DefaultLockTtl = TimeSpan.FromSeconds(300);
    public static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultLockRequestTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, ResourcePolicy> _cache = new(StringComparer.Ordinal);

    public ResourceCatalog(
        ResourceTypeSettings defaults,
        IReadOnlyDictionary<string, RolePermissions> roles,
        IReadOnlyDictionary<string, ResourceTypeSettings> types,
        bool allowUnknownTypes,
        string source,
        string version = "")
    {
        Defaults = defaults;
        Roles = roles;
        Types = types;
        AllowUnknownTypes = allowUnknownTypes;
        Source = source;
        Version = version;
    }

    public ResourceTypeSettings Defaults { get; }

    /// <summary>Role permissions for every type (<c>defaults.roles</c>); types and sub-resources override per role.</summary>
    public IReadOnlyDictionary<string, RolePermissions> Roles { get; }

    public IReadOnlyDictionary<string, ResourceTypeSettings> Types { get; }
    public bool AllowUnknownTypes { get; }

    /// <summary>Where the catalog was read from (a file path), for diagnostics.</summary>
    public string Source { get; }

    /// <summary>What was read: the file's content hash (<c>sha256:</c> and 16 hex digits), the same on every node that reads the same bytes.</summary>
    public string Version { get; }

    /// <summary>Every role named anywhere in the file.</summary>
    public IReadOnlyList<string> AllRoles =>
        Roles.Keys
            .Concat(Types.Values.SelectMany(t => t.Permissions.Keys.Concat(t.SubTypes.Values.SelectMany(s => s.Permissions.Keys))))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>The policy for <paramref name="id"/>, or null when its type is unknown and unknown types are refused.</summary>
    public ResourcePolicy? Resolve(ResourceId id)
    {
        var key = id.IsRoot ? id.Type : $"{id.Type}/{id.SubType}";
        if (_cache.TryGetValue(key, out var cached))
        {
            return cached;
        }
        if (!Types.TryGetValue(id.Type, out var type) && !AllowUnknownTypes)
        {
            return null;
        }
        ResourceTypeSettings? sub = null;
        if (type is not null && id.SubType is { } subType)
        {
            type.SubTypes.TryGetValue(subType, out sub);
        }
        var policy = Merge(key, Defaults, type, sub);
        if (id.IsRoot)
        {
            policy = policy with { IndependentLocks = true };
        }
        _cache.TryAdd(key, policy);
        return policy;
    }

    private ResourcePolicy Merge(string key, params ResourceTypeSettings?[] layers)
    {
        var maxEditors = DefaultMaxConcurrentEditors;
        int? maxViewers = null;
        var ttl = DefaultLockTtl;
        var heartbeat = DefaultHeartbeatInterval;
        var grace = DefaultGracePeriod;
        var requestTimeout = DefaultLockRequestTimeout;
        string? displayName = null;
        var independent = true;
        var roles = new Dictionary<string, RolePermissions>(Roles, StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            if (layer is null)
            {
                continue;
            }
            maxEditors = layer.MaxConcurrentEditors ?? maxEditors;
            if (layer.MaxViewersSet)
            {
                maxViewers = layer.MaxViewers;
            }
            ttl = layer.LockTtl ?? ttl;
            heartbeat = layer.HeartbeatInterval ?? heartbeat;
            grace = layer.GracePeriod ?? grace;
            requestTimeout = layer.LockRequestTimeout ?? requestTimeout;
            displayName = layer.DisplayName ?? displayName;
            independent = layer.IndependentLocks ?? independent;
            foreach (var (role, permissions) in layer.Permissions)
            {
                roles[role] = permissions;
            }
        }
        return new ResourcePolicy(key, maxEditors, maxViewers, ttl, heartbeat, grace, roles, displayName, independent, requestTimeout);
    }
}
