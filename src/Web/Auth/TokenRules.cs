using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Web.Auth;

/// <summary>A signed, unexpired token refused for what it says (no subject, an ambiguous role, too long a life).</summary>
public sealed class CollabTokenRejectedException(string reason) : SecurityTokenValidationException(reason)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// Checks on a token after its signature, expiry, issuer and audience passed: the claims the node builds an
/// identity from must be unambiguous, so two people never share one user id.
/// </summary>
public static class TokenRules
{
    public const int MaxSubjectLength = 256;

    /// <summary>Null when the token is acceptable, else a short reason (never the token or its claims' values).</summary>
    public static string? Check(ClaimsPrincipal? principal, SecurityToken? token, TimeSpan? maxLifetime, DateTimeOffset now)
    {
        var subjects = principal?.FindAll("sub").ToList() ?? [];
        if (subjects.Count != 1 || string.IsNullOrWhiteSpace(subjects[0].Value) || subjects[0].ValueType != ClaimValueTypes.String)
        {
            return "token has no subject (sub must be one non-empty string)";
        }
        if (subjects[0].Value.Length > MaxSubjectLength)
        {
            return $"token subject is longer than {MaxSubjectLength} characters";
        }
        var roles = principal!.FindAll("role").ToList();
        if (roles.Count > 1 || roles.Any(r => r.ValueType != ClaimValueTypes.String || string.IsNullOrWhiteSpace(r.Value)))
        {
            return "token role must be one string";
        }
        var names = principal.FindAll("name").ToList();
        if (names.Count > 1 || names.Any(n => n.ValueType != ClaimValueTypes.String))
        {
            return "token name must be one string";
        }
        if (maxLifetime is { } max && token is not null && token.ValidTo != DateTime.MinValue)
        {
            var issued = principal.FindFirst("iat") is not null && token is Microsoft.IdentityModel.JsonWebTokens.JsonWebToken { IssuedAt: var iat } && iat != DateTime.MinValue
                ? new DateTimeOffset(iat, TimeSpan.Zero)
                : now;
            if (new DateTimeOffset(token.ValidTo, TimeSpan.Zero) - issued > max)
            {
                return $"token lifetime exceeds {max} (Collab:Security:MaxTokenLifetime)";
            }
        }
        return null;
    }
}
