using System.Security.Cryptography;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Web.Http;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using CollabAkka.Web.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace CollabAkka.Web.Auth;

/// <summary>
/// JWT bearer authentication: RS256 only, against the configured public key (and the dev key when dev
/// tokens are on). A refused token never reaches the hub: the request gets a 401 problem with a reason,
/// and hub connection attempts are audited as CONNECTION_REJECTED.
/// </summary>
public static class AuthSetup
{
    public const string HubPath = "/hubs/collab";

    public static IServiceCollection AddCollabAuthentication(this IServiceCollection services, CollabAuthOptions options, DevTokenIssuer? devTokens)
    {
        var keys = new List<SecurityKey>();
        var pem = options.PublicKeyPem;
        if (string.IsNullOrWhiteSpace(pem) && !string.IsNullOrWhiteSpace(options.PublicKeyFile))
        {
            pem = File.ReadAllText(options.PublicKeyFile);
        }
        if (!string.IsNullOrWhiteSpace(pem))
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            keys.Add(new RsaSecurityKey(rsa) { KeyId = "configured" });
        }
        if (devTokens is not null)
        {
            keys.Add(devTokens.Key);
        }
        if (keys.Count == 0)
        {
            throw new OptionsValidationException("Auth", typeof(CollabAuthOptions), [
                "No token key is configured: set Auth:PublicKeyPem or Auth:PublicKeyFile (RS256 public key), or enable Auth:DevTokens for development (the embedded profile: --Collab:Profile=embedded)."]);
        }

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            jwt.MapInboundClaims = false;
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                IssuerSigningKeys = keys,
                ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                RequireSignedTokens = true,
                RequireExpirationTime = true,
                ValidateLifetime = true,
                ValidateIssuer = options.Issuer is not null,
                ValidIssuer = options.Issuer,
                ValidateAudience = options.Audience is not null,
                ValidAudience = options.Audience,
                ClockSkew = options.ClockSkew,
                NameClaimType = "name",
                RoleClaimType = "role",
            };
            jwt.Events = new JwtBearerEvents
            {
                // Browsers cannot set headers on WebSockets; SignalR sends the token as access_token.
                OnMessageReceived = context =>
                {
                    var token = context.Request.Query["access_token"];
                    if (!string.IsNullOrEmpty(token) && context.HttpContext.Request.Path.StartsWithSegments(HubPath))
                    {
                        context.Token = token;
                    }
                    return Task.CompletedTask;
                },
                // Identity must be unambiguous (issue 12 item 10): a subject, at most one string role, a bounded lifetime.
                OnTokenValidated = context =>
                {
                    var security = context.HttpContext.RequestServices.GetService<IOptions<SecurityOptions>>()?.Value ?? new SecurityOptions();
                    if (TokenRules.Check(context.Principal, context.SecurityToken, security.MaxTokenLifetime, DateTimeOffset.UtcNow) is { } refusal)
                    {
                        context.Fail(new CollabTokenRejectedException(refusal));
                    }
                    else if (context.HttpContext.RequestServices.GetService<SessionRevocations>() is { } revocations &&
                             context.Principal?.FindFirst("sub")?.Value is { } subject &&
                             revocations.Refuses(subject, SessionRevocations.IssuedAt(context.Principal)))
                    {
                        context.Fail(new CollabTokenRejectedException("token revoked: this user's sessions were ended; get a new token"));
                    }
                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    var reason = DescribeFailure(context.AuthenticateFailure, context.Request);
                    var http = context.HttpContext;
                    if (http.Request.Path.StartsWithSegments(HubPath) &&
                        http.RequestServices.GetService<UnauthenticatedGuard>()?.Audit.TryPass("rejected", DateTimeOffset.UtcNow) is { } suppressed)
                    {
                        var details = new Dictionary<string, object?> { ["reason"] = reason, ["path"] = http.Request.Path.Value };
                        if (suppressed > 0)
                        {
                            details["suppressed"] = suppressed;
                        }
                        HttpAudit.Record(http, AuditEventTypes.ConnectionRejected, null, details);
                    }
                    http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                    await Problems.WriteAsync(http, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, reason).ConfigureAwait(false);
                },
                OnForbidden = context =>
                    Problems.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied,
                        "Your role may not use this endpoint."),
            };
        });
        services.AddAuthorization();
        return services;
    }

    /// <summary>A short, safe reason for a refused token (never echoes the token).</summary>
    public static string DescribeFailure(Exception? failure, HttpRequest request) => failure switch
    {
        null when request.Headers.Authorization.Count == 0 && !request.Query.ContainsKey("access_token") => "missing token",
        null => "token refused",
        CollabTokenRejectedException e => e.Reason,
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenInvalidAudienceException => "wrong audience",
        SecurityTokenInvalidAlgorithmException => "algorithm not allowed (RS256 required)",
        SecurityTokenSignatureKeyNotFoundException => "invalid signature (unknown signing key)",
        SecurityTokenInvalidSignatureException e when e.Message.Contains("IDX10504", StringComparison.Ordinal) =>
            "unsigned token (alg none) refused",
        SecurityTokenInvalidSignatureException => "invalid signature",
        SecurityTokenNoExpirationException => "token has no expiry",
        SecurityTokenMalformedException => "malformed token",
        _ => "invalid token",
    };
}
