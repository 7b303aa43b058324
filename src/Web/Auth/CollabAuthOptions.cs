namespace CollabAkka.Web.Auth;

/// <summary>Authentication (<c>Auth</c>).</summary>
public sealed class CollabAuthOptions
{
    /// <summary>RS256 public key (PEM) that production tokens are checked against.</summary>
    public string? PublicKeyPem { get; set; }

    /// <summary>Path of a PEM file with that key (instead of <see cref="PublicKeyPem"/>).</summary>
    public string? PublicKeyFile { get; set; }

    /// <summary>When set, tokens must carry this issuer.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, tokens must carry this audience.</summary>
    public string? Audience { get; set; }

    /// <summary>Serve <c>POST /dev/token</c>. Null means: true in the embedded profile, false otherwise.</summary>
    public bool? DevTokens { get; set; }

    /// <summary>
    /// The dev tokens' RSA key (PEM, created if missing). Null: <c>dev-signing-key.pem</c> in the data directory. Give
    /// every node of a dev cluster the same file and a token from any node is good on all of them.
    /// </summary>
    public string? DevSigningKeyFile { get; set; }

    /// <summary>Lifetime of tokens minted by <c>/dev/token</c>.</summary>
    public TimeSpan DevTokenLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Tolerated clock difference when checking expiry.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}
