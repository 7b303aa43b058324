using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Web.Auth;

/// <summary>
/// Mints RS256 tokens for development and the demo. The key is kept in a file (the data directory's
/// <see cref="KeyFileName"/>, or <see cref="CollabAuthOptions.DevSigningKeyFile"/>, which the nodes of a dev cluster
/// share) so tokens survive a node restart; it is accepted only when dev tokens are enabled.
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
        rsa.ImportFromPem(LoadOrCreateKey(options.DevSigningKeyFile ?? Path.Combine(dataDir, KeyFileName)));
        Key = new RsaSecurityKey(rsa) { KeyId = "collab-dev" };
        _credentials = new SigningCredentials(Key, SecurityAlgorithms.RsaSha256);
    }

    public RsaSecurityKey Key { get; }

    /// <summary>
    /// The key file's PEM; a new key when there is none. Nodes sharing the file may start at once: the new key is
    /// written aside and moved into place only if the file still does not exist, so all of them end up with one key.
    /// The file is readable by its owner only.
    /// </summary>
    private static string LoadOrCreateKey(string path)
    {
        if (File.Exists(path))
        {
            return File.ReadAllText(path);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var rsa = RSA.Create(2048);
        var pem = rsa.ExportRSAPrivateKeyPem();
        var aside = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var write = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            write.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new StreamWriter(aside, System.Text.Encoding.ASCII, write))
        {
            file.Write(pem);
        }
        try
        {
            File.Move(aside, path, overwrite: false);
            return pem;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(aside); // another node created it first: use that one
            return File.ReadAllText(path);
        }
    }

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
