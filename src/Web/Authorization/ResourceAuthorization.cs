using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using CollabAkka.Entities.Configuration;
using CollabAkka.Messages;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace CollabAkka.Web.Authorization;

// Read access has two layers:
//  1. canView in resources.yml, per role and type (the entity and the HTTP endpoints check it: a role the type does
//     not list, or a token without a role, may not open the resource);
//  2. this seam, for what only the host application knows ("may this user open this patient?"), asked before
//     a join and before every HTTP read. Modes (Collab:Authorization:Mode): none (default), claim (the token lists
//     the resource prefixes the user may open) and callback (the node asks a host URL, caching the answer).
// A joined connection keeps its access until it leaves: doc:sync and awareness need membership, so a revoked grant
// takes effect on the next join (at most CacheSeconds after the host changed its answer).

/// <summary>What a host decides: may <paramref name="UserId"/> open <paramref name="Resource"/>?</summary>
public sealed record ResourceAccessRequest(ClaimsPrincipal User, string UserId, string Role, ResourceId Resource);

/// <summary>The decision; a refusal carries the code the caller answers with (PERMISSION_DENIED or UNAVAILABLE).</summary>
public sealed record ResourceAccessDecision(bool Allowed, string? Code = null, string? Reason = null)
{
    public static readonly ResourceAccessDecision Allow = new(true);

    public static ResourceAccessDecision Deny(string reason) => new(false, ErrorCodes.PermissionDenied, reason);
}

/// <summary>The host application's say over who may open which resource. Register your own to replace the built-in modes.</summary>
public interface IResourceAuthorizer
{
    ValueTask<ResourceAccessDecision> AuthorizeAsync(ResourceAccessRequest request, CancellationToken cancellationToken);
}

/// <summary>Collab:Authorization.</summary>
public sealed class ResourceAuthorizationOptions
{
    public const string None = "none";
    public const string Claim = "claim";
    public const string Callback = "callback";

    /// <summary><c>none</c> (roles from resources.yml only), <c>claim</c> or <c>callback</c>.</summary>
    public string Mode { get; set; } = None;

    /// <summary>Claim mode: the token claim listing the resource prefixes the user may open (a JSON array or space-separated).</summary>
    public string ClaimName { get; set; } = "collab_resources";

    /// <summary>Callback mode: the host URL the node POSTs <c>{userId, role, resourceId, rootResourceId, access}</c> to.</summary>
    public Uri? CallbackUrl { get; set; }

    /// <summary>Callback mode: how long one answer waits; past it the request is refused with UNAVAILABLE.</summary>
    public TimeSpan CallbackTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Callback mode: how long an answer (allowed or refused) is reused for the same user, role and resource.</summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Callback mode: the most answers kept.</summary>
    public int MaxCacheEntries { get; set; } = 10_000;

    public void Validate()
    {
        var problems = new List<string>();
        if (Mode is not (None or Claim or Callback))
        {
            problems.Add($"Collab:Authorization:Mode '{Mode}' is not known; use '{None}', '{Claim}' or '{Callback}'.");
        }
        if (Mode == Claim && string.IsNullOrWhiteSpace(ClaimName))
        {
            problems.Add("Collab:Authorization:ClaimName is required in claim mode.");
        }
        if (Mode == Callback && (CallbackUrl is null || !CallbackUrl.IsAbsoluteUri))
        {
            problems.Add("Collab:Authorization:CallbackUrl (an absolute URL) is required in callback mode.");
        }
        if (CallbackTimeout <= TimeSpan.Zero || CacheDuration < TimeSpan.Zero || MaxCacheEntries < 1)
        {
            problems.Add("Collab:Authorization: CallbackTimeout > 0, CacheDuration >= 0 and MaxCacheEntries >= 1 are required.");
        }
        if (problems.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Collab:Authorization", typeof(ResourceAuthorizationOptions), problems);
        }
    }
}

/// <summary>Mode <c>none</c>: the roles in resources.yml decide alone.</summary>
internal sealed class AllowAllAuthorizer : IResourceAuthorizer
{
    public ValueTask<ResourceAccessDecision> AuthorizeAsync(ResourceAccessRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ResourceAccessDecision.Allow);
}

/// <summary>
/// Mode <c>claim</c>: the token carries the resource prefixes the user may open, e.g.
/// <c>"collab_resources": ["patient-chart:4711", "document:"]</c>. A prefix ending in ':' or '/' matches every id
/// starting with it; any other prefix matches that id and its children (<c>document:12</c> does not match
/// <c>document:123</c>); <c>*</c> matches everything. No claim: nothing may be opened.
/// </summary>
internal sealed class ClaimPrefixAuthorizer(ResourceAuthorizationOptions options) : IResourceAuthorizer
{
    public ValueTask<ResourceAccessDecision> AuthorizeAsync(ResourceAccessRequest request, CancellationToken cancellationToken)
    {
        var prefixes = Prefixes(request.User, options.ClaimName);
        var id = request.Resource.Value;
        foreach (var prefix in prefixes)
        {
            if (Matches(prefix, id))
            {
                return ValueTask.FromResult(ResourceAccessDecision.Allow);
            }
        }
        return ValueTask.FromResult(ResourceAccessDecision.Deny(
            $"The token's '{options.ClaimName}' claim does not include {id} (Collab:Authorization:Mode=claim)."));
    }

    internal static bool Matches(string prefix, string id) =>
        prefix == "*" ||
        (prefix.Length > 0 && prefix[^1] is ':' or '/' ? id.StartsWith(prefix, StringComparison.Ordinal)
            : id == prefix || id.StartsWith(prefix + "/", StringComparison.Ordinal));

    private static IEnumerable<string> Prefixes(ClaimsPrincipal user, string claimName)
    {
        foreach (var claim in user.FindAll(claimName))
        {
            var value = claim.Value.Trim();
            if (value.StartsWith('['))
            {
                string[]? list = null;
                try
                {
                    list = JsonSerializer.Deserialize<string[]>(value);
                }
                catch (JsonException)
                {
                    // not a list after all; treat as one space-separated value below
                }
                if (list is not null)
                {
                    foreach (var item in list)
                    {
                        yield return item;
                    }
                    continue;
                }
            }
            foreach (var item in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                yield return item;
            }
        }
    }
}

/// <summary>The body the node POSTs to <c>Collab:Authorization:CallbackUrl</c>.</summary>
public sealed record ResourceAccessQuery(string UserId, string Role, string ResourceId, string RootResourceId, string Access);

/// <summary>What the callback answers (HTTP 200): <c>{"allowed": true}</c> or <c>{"allowed": false, "reason": "…"}</c>.</summary>
public sealed record ResourceAccessAnswer(bool Allowed, string? Reason);

/// <summary>
/// Mode <c>callback</c>: asks the host, caches each answer for <c>CacheDuration</c> per (user, role, resource).
/// Fails closed: a timeout, a non-200 answer or an unreadable body refuses with UNAVAILABLE (and is not cached).
/// </summary>
internal sealed partial class CallbackAuthorizer(HttpClient http, ResourceAuthorizationOptions options, ILogger<CallbackAuthorizer> logger)
    : IResourceAuthorizer, IDisposable
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = options.MaxCacheEntries });

    public async ValueTask<ResourceAccessDecision> AuthorizeAsync(ResourceAccessRequest request, CancellationToken cancellationToken)
    {
        var key = $"{request.UserId}\n{request.Role}\n{request.Resource.Value}";
        if (_cache.TryGetValue(key, out ResourceAccessDecision? cached) && cached is not null)
        {
            return cached;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.CallbackTimeout);
        ResourceAccessAnswer? answer;
        try
        {
            using var response = await http.PostAsJsonAsync(options.CallbackUrl,
                new ResourceAccessQuery(request.UserId, request.Role, request.Resource.Value, request.Resource.Root.Value, "view"),
                timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                AuthorizationLog.CallbackFailed(logger, (int)response.StatusCode);
                return Unavailable($"the authorization callback answered HTTP {(int)response.StatusCode}");
            }
            answer = await response.Content.ReadFromJsonAsync<ResourceAccessAnswer>(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or NotSupportedException)
        {
            AuthorizationLog.CallbackFailed(logger, 0);
            return Unavailable("the authorization callback did not answer in time or not readably");
        }
        var decision = answer is { Allowed: true }
            ? ResourceAccessDecision.Allow
            : ResourceAccessDecision.Deny(answer?.Reason is { Length: > 0 and <= 200 } reason
                ? $"The host application refused access to {request.Resource.Value}: {reason}"
                : $"The host application refused access to {request.Resource.Value}.");
        _cache.Set(key, decision, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = options.CacheDuration > TimeSpan.Zero ? options.CacheDuration : TimeSpan.FromTicks(1) });
        return decision;
    }

    private static ResourceAccessDecision Unavailable(string why) =>
        new(false, ErrorCodes.Unavailable, $"Access could not be checked: {why} (Collab:Authorization:CallbackUrl).");

    public void Dispose() => _cache.Dispose();

    private static partial class AuthorizationLog
    {
        [LoggerMessage(EventId = 5100, Level = LogLevel.Warning, Message = "Authorization callback failed (HTTP status {Status}; 0 = no answer); access refused.")]
        public static partial void CallbackFailed(ILogger logger, int status);
    }
}

/// <summary>Both layers in one call: canView from resources.yml, then the host seam.</summary>
public sealed class ResourceReadGuard(ResourceCatalogHolder catalogs, IResourceAuthorizer authorizer)
{
    public async ValueTask<ResourceAccessDecision> CheckAsync(ClaimsPrincipal user, string userId, string role, ResourceId resource, CancellationToken cancellationToken)
    {
        var catalog = catalogs.Current; // one catalog for the whole decision, even while a reload swaps it
        if (catalog.Resolve(resource) is not { } policy)
        {
            return new ResourceAccessDecision(false, ErrorCodes.ValidationFailed, $"Resource type '{resource.Type}' is not configured in {catalog.Source}.");
        }
        if (!policy.For(role).CanView)
        {
            return ResourceAccessDecision.Deny(role.Length == 0
                ? $"A token without a role may not open {policy.TypeKey} resources."
                : $"Role '{role}' may not view {policy.TypeKey} resources (resources.yml canView).");
        }
        return await authorizer.AuthorizeAsync(new ResourceAccessRequest(user, userId, role, resource), cancellationToken).ConfigureAwait(false);
    }
}

public static class ResourceAuthorizationSetup
{
    /// <summary>
    /// Binds <c>Collab:Authorization</c> and registers the authorizer it names, unless the host registered its own
    /// <see cref="IResourceAuthorizer"/> first (CollabNodeBuilder's <c>customize</c> hook runs before this).
    /// </summary>
    public static IServiceCollection AddCollabResourceAuthorization(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Collab:Authorization").Get<ResourceAuthorizationOptions>() ?? new ResourceAuthorizationOptions();
        options.Validate();
        services.AddSingleton(options);
        switch (options.Mode)
        {
            case ResourceAuthorizationOptions.Claim:
                services.TryAddSingleton<IResourceAuthorizer>(new ClaimPrefixAuthorizer(options));
                break;
            case ResourceAuthorizationOptions.Callback:
                services.AddHttpClient(nameof(CallbackAuthorizer));
                services.TryAddSingleton<IResourceAuthorizer>(sp => new CallbackAuthorizer(
                    sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(CallbackAuthorizer)), options,
                    sp.GetRequiredService<ILogger<CallbackAuthorizer>>()));
                break;
            default:
                services.TryAddSingleton<IResourceAuthorizer, AllowAllAuthorizer>();
                break;
        }
        services.AddSingleton<ResourceReadGuard>();
        return services;
    }
}
