using System.Net;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Webhooks;

/// <summary>The webhook receiver (<c>Collab:Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const int DefaultRequestsPerMinute = 100;
    public const int DefaultMaxBodyBytes = 64 * 1024;

    /// <summary>Known senders by name (the <c>X-Source</c> header): their secrets and allowed addresses.</summary>
    public Dictionary<string, WebhookSourceOptions> Sources { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How far <c>X-Timestamp</c> may be from the node's clock, and how long a delivery id or signature is remembered.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Largest accepted body; larger is refused with PAYLOAD_TOO_LARGE.</summary>
    public int MaxBodyBytes { get; set; } = DefaultMaxBodyBytes;

    /// <summary>Accepted deliveries per source and minute (sliding window); more is refused with 429 and Retry-After.</summary>
    public int RequestsPerMinute { get; set; } = DefaultRequestsPerMinute;

    /// <summary>A bearer token with this role may deliver instead of an HMAC signature (its <c>sub</c> is the source). Empty: off.</summary>
    public string JwtRole { get; set; } = "webhook";

    /// <summary>Most remembered deliveries (delivery ids and signatures) across sources.</summary>
    public int MaxRememberedDeliveries { get; set; } = 100_000;

    public void Validate()
    {
        var problems = new List<string>();
        if (ReplayWindow < TimeSpan.FromSeconds(1) || MaxBodyBytes < 256 || RequestsPerMinute < 1 || MaxRememberedDeliveries < 100)
        {
            problems.Add("Collab:Webhooks: ReplayWindow >= 1 s, MaxBodyBytes >= 256, RequestsPerMinute >= 1, MaxRememberedDeliveries >= 100 are required.");
        }
        foreach (var (name, source) in Sources)
        {
            if (source.Secrets.Count == 0 || source.Secrets.Any(s => string.IsNullOrEmpty(s) || s.Length < 16))
            {
                problems.Add($"Collab:Webhooks:Sources:{name}:Secrets needs one or two secrets of at least 16 characters.");
            }
            foreach (var ip in source.AllowedIPs)
            {
                if (!IPNetwork.TryParse(ip.Contains('/', StringComparison.Ordinal) ? ip : $"{ip}/{(ip.Contains(':', StringComparison.Ordinal) ? 128 : 32)}", out _))
                {
                    problems.Add($"Collab:Webhooks:Sources:{name}:AllowedIPs: '{ip}' is not an address or CIDR range.");
                }
            }
        }
        if (problems.Count > 0)
        {
            throw new OptionsValidationException("Collab:Webhooks", typeof(WebhookOptions), problems);
        }
    }
}

/// <summary>One sender (<c>Collab:Webhooks:Sources:&lt;name&gt;</c>).</summary>
public sealed class WebhookSourceOptions
{
    /// <summary>HMAC secrets; any one verifies (two during a rotation).</summary>
    public List<string> Secrets { get; set; } = [];

    /// <summary>Addresses or CIDR ranges the sender may call from; empty allows any.</summary>
    public List<string> AllowedIPs { get; set; } = [];

    internal bool Allows(IPAddress? address)
    {
        if (AllowedIPs.Count == 0)
        {
            return true;
        }
        if (address is null)
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        foreach (var entry in AllowedIPs)
        {
            var cidr = entry.Contains('/', StringComparison.Ordinal) ? entry : $"{entry}/{(entry.Contains(':', StringComparison.Ordinal) ? 128 : 32)}";
            if (IPNetwork.TryParse(cidr, out var network) && network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
