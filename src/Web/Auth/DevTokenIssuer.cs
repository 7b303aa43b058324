using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Web.Auth;

/// <summary>
/// Mints RS256 tokens for development and the demo. The key is kept in the data directory so tokens
/// survive a node restart; it is accepted only when dev tokens are enabled.
/// </summary>
public sealed class DevTokenIssuer
{
    public const string KeyFileName = "dev-signing-key.pem";

    private readonly SigningCredentials _credentials;
    private readonly CollabAuthOptions _options;
    private readonly TimeProvider _time;

    public DevTokenIssuer(string dataDir, CollabAuthOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        var rsa = RSA.Create();
        var path = Path.Combine(dataDir, KeyFileName);
        if (File.Exists(path))
        {
            rsa.ImportFromPem(File.ReadAllText(path));
        }
        else
        {
            rsa.KeySize = 2048;
            Directory.CreateDirectory(dataDir);
            File.WriteAllText(path, rsa.ExportRSAPrivateKeyPem());
        }
        Key = new RsaSecurityKey(rsa) { KeyId = "collab-dev" };
        _credentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256);
    }

    public RsaSecurityKey Key { get; }

    public (string Token, DateTimeOffset ExpiresAt) Issue(string userId, string username, string role)
    {
        var now = _time.GetUtcNow();
        var expires = now + _options.DevTokenLifetime;
        var descriptor = new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", userId), new Claim("name", username), new Claim("role", role)]),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            SigningCredentials = _credentials,
        };
        return (new JsonWebTokenHandler().CreateToken(descriptor), expires);
    }

    /// <summary>Tests and tools: a token with exactly these claims (e.g. without a role, or with a resource claim).</summary>
    internal string IssueWithClaims(IEnumerable<Claim> claims)
    {
        var now = _time.GetUtcNow();
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + _options.DevTokenLifetime).UtcDateTime,
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            SigningCredentials = _credentials,
        });
    }
}
