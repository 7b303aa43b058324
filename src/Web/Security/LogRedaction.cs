using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace CollabAkka.Web.Security;

/// <summary>
/// What may be written about a request (issue 12 items 5 and 6): the token query parameter
/// (<c>access_token</c>) is replaced by <c>[redacted]</c>, anything shaped like a JWT is too, and paths and
/// queries are cut to a configured length. Used by the request log, the HTTP audit and the log enricher.
/// </summary>
public static partial class LogRedaction
{
    public const string Redacted = "[redacted]";

    [GeneratedRegex(@"(access_token=)[^&\s""']*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TokenParameter();

    // Three base64url segments, the first two starting like a JSON object ("eyJ"): a JWT.
    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();

    /// <summary>Whether <paramref name="text"/> may hold a secret (cheap pre-check before <see cref="Redact"/>).</summary>
    public static bool MayContainSecret(string text) =>
        text.Contains("access_token", StringComparison.OrdinalIgnoreCase) || text.Contains("eyJ", StringComparison.Ordinal);

    /// <summary>The text with tokens replaced.</summary>
    public static string Redact(string text) =>
        MayContainSecret(text) ? Jwt().Replace(TokenParameter().Replace(text, "$1" + Redacted), Redacted) : text;

    /// <summary>The query as <c>k=v&amp;…</c> with <c>access_token</c> redacted, cut at <paramref name="maxLength"/>; null when empty.</summary>
    public static string? Query(IQueryCollection query, int maxLength)
    {
        if (query.Count == 0)
        {
            return null;
        }
        var sb = new StringBuilder();
        foreach (var (key, value) in query)
        {
            if (sb.Length > maxLength)
            {
                break;
            }
            if (sb.Length > 0)
            {
                sb.Append('&');
            }
            sb.Append(key).Append('=');
            sb.Append(key.Equals("access_token", StringComparison.OrdinalIgnoreCase) ? Redacted : Redact(value.ToString()));
        }
        return Cut(sb.ToString(), maxLength);
    }

    /// <summary>Text cut at <paramref name="maxLength"/> characters, marked with "…" when cut.</summary>
    public static string Cut(string text, int maxLength) =>
        text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, Math.Max(0, maxLength - 1)), "…");
}
