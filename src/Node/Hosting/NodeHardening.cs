using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading.RateLimiting;
using CollabAkka.Entities.Resources;
using CollabAkka.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Everything that keeps outsiders from exhausting or reading the node (issue 12; docs/SECURITY.md), applied
/// from one line of <see cref="CollabNodeBuilder"/>:
/// Kestrel's global connection limits (capped below the process's file-descriptor limit, which is raised to its
/// hard maximum first, so accept never meets EMFILE), header, keep-alive and body limits; a connection middleware
/// with a per-IP cap on open connections and a token bucket per IP on new ones; one JSON depth (document nesting
/// plus envelope) for the hub protocol and HTTP JSON; a request log without tokens; the unauthenticated-request
/// guard and the refused-write auditor; and the refusal to serve dev tokens on a network address.
/// </summary>
internal static partial class NodeHardening
{
    public static void Apply(WebApplicationBuilder builder, bool devTokensEnabled)
    {
        var section = builder.Configuration.GetSection("Collab:Security");
        var security = section.Get<SecurityOptions>() ?? new SecurityOptions();
        security.Validate();
        var documents = builder.Configuration.GetSection("Collab:Documents").Get<DocumentOptions>() ?? new DocumentOptions();
        if (documents.MaxNestingDepth is < 1 or > Yjs.YLimits.MaxSupportedDepth)
        {
            throw new OptionsValidationException("Collab:Documents", typeof(DocumentOptions),
                [$"Collab:Documents:MaxNestingDepth must be between 1 and {Yjs.YLimits.MaxSupportedDepth}."]);
        }
        if (devTokensEnabled && !security.AllowDevTokensOnNetwork && NetworkAddress(builder.Configuration) is { } exposed)
        {
            throw new OptionsValidationException("Auth:DevTokens", typeof(SecurityOptions),
                [$"Dev tokens (POST /dev/token, /demo) mint tokens for anyone and the node would listen on {exposed}: listen on a loopback address, " +
                 "use --Collab:Profile=production with Auth:PublicKeyFile, or set Collab:Security:AllowDevTokensOnNetwork=true."]);
        }

        var descriptors = FileDescriptors.RaiseSoftLimit();
        var maxConnections = descriptors is { } limit
            ? (int)Math.Clamp(limit - security.ReservedFileDescriptors, 16, security.MaxConcurrentConnections)
            : security.MaxConcurrentConnections;
        var jsonDepth = Yjs.YLimits.JsonDepth(documents.MaxNestingDepth);
        var connections = new PerIpConnections(security);

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxConcurrentConnections = maxConnections;
            k.Limits.MaxConcurrentUpgradedConnections = Math.Min(security.MaxConcurrentUpgradedConnections, maxConnections);
            k.Limits.RequestHeadersTimeout = security.RequestHeadersTimeout;
            k.Limits.KeepAliveTimeout = security.KeepAliveTimeout;
            k.Limits.MaxRequestBodySize = security.MaxRequestBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = security.MaxRequestHeadersBytes;
            k.ConfigureEndpointDefaults(listen => listen.Use(connections.Middleware));
        });

        var services = builder.Services;
        services.Configure<SecurityOptions>(section);
        services.AddSingleton(connections);
        services.AddSingleton<UnauthenticatedGuard>();
        services.AddSingleton<RefusedWriteAuditor>();
        services.AddSingleton(SecurityCapabilities.From(security, documents, maxConnections));
        // Note: SignalR's JSON protocol parses each incoming frame with its own reader (depth 64, not configurable) and
        // closes the connection on a deeper frame; the default document limit (32 + 16) stays below it (docs/SECURITY.md).
        services.Configure<JsonHubProtocolOptions>(o => o.PayloadSerializerOptions.MaxDepth = jsonDepth);
        services.Configure<JsonOptions>(o => o.SerializerOptions.MaxDepth = jsonDepth);
        services.AddTransient<IStartupFilter>(_ => new RequestLogStartupFilter());
    }

    /// <summary>The first configured URL that is not loopback, or null.</summary>
    private static string? NetworkAddress(ConfigurationManager configuration)
    {
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        foreach (var url in urls)
        {
            var host = url.Split("://", 2) is [_, var rest] ? rest : url;
            host = host.Split('/', 2)[0];
            host = host.StartsWith('[') ? host[1..host.IndexOf(']', StringComparison.Ordinal)] : host.Split(':')[0];
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!IPAddress.TryParse(host, out var ip) || !IPAddress.IsLoopback(ip))
            {
                return url;
            }
        }
        return null;
    }

    /// <summary>Per remote IP: at most <see cref="SecurityOptions.MaxConnectionsPerIp"/> open, and a token bucket on new connections.</summary>
    internal sealed partial class PerIpConnections(SecurityOptions options)
    {
        private readonly ConcurrentDictionary<IPAddress, int> _open = new();
        private readonly PartitionedRateLimiter<IPAddress> _attempts = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip =>
            RateLimitPartition.GetTokenBucketLimiter(ip, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.ConnectionAttemptBurst,
                TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(options.ConnectionAttemptsPerIpPerSecond / 10)),
                ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(options.ConnectionAttemptsPerIpPerSecond / 10)) / options.ConnectionAttemptsPerIpPerSecond),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
        private long _refused;

        /// <summary>Connections closed at once because of these limits (since start).</summary>
        public long Refused => Interlocked.Read(ref _refused);

        public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
        {
            var ip = (context.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            if (ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }
            using (var lease = _attempts.AttemptAcquire(ip))
            {
                if (!lease.IsAcquired)
                {
                    Interlocked.Increment(ref _refused);
                    context.Abort(new ConnectionAbortedException("Too many connection attempts from this address (Collab:Security:ConnectionAttemptsPerIpPerSecond)."));
                    return;
                }
            }
            var open = _open.AddOrUpdate(ip, 1, static (_, n) => n + 1);
            try
            {
                if (open > options.MaxConnectionsPerIp)
                {
                    Interlocked.Increment(ref _refused);
                    context.Abort(new ConnectionAbortedException("Too many open connections from this address (Collab:Security:MaxConnectionsPerIp)."));
                    return;
                }
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                if (_open.AddOrUpdate(ip, 0, static (_, n) => n - 1) <= 0)
                {
                    _open.TryRemove(new KeyValuePair<IPAddress, int>(ip, 0));
                }
            }
        };
    }

    /// <summary>Puts the request log first in the pipeline.</summary>
    private sealed class RequestLogStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("CollabAkka.Requests");
            var options = app.ApplicationServices.GetRequiredService<IOptions<SecurityOptions>>().Value;
            app.Use(async (http, nextMiddleware) =>
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await nextMiddleware(http).ConfigureAwait(false);
                }
                finally
                {
                    if (logger.IsEnabled(LogLevel.Information))
                    {
                        // The Microsoft.AspNetCore.Hosting.Diagnostics lines carry the raw query (tokens); this one never does.
                        var path = LogRedaction.Cut(LogRedaction.Redact(http.Request.Path.Value ?? ""), options.MaxLoggedPathLength);
                        var query = LogRedaction.Query(http.Request.Query, options.MaxLoggedQueryLength) ?? "";
                        var elapsedMs = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
                        var remote = http.Connection.RemoteIpAddress?.ToString();
                        RequestLog.Completed(logger, http.Request.Method, path, query, http.Response.StatusCode, elapsedMs, remote);
                    }
                }
            });
            next(app);
        };
    }

    private static partial class RequestLog
    {
        [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "HTTP {Method} {Path} {Query} responded {StatusCode} in {ElapsedMs} ms from {RemoteIp}")]
        public static partial void Completed(ILogger logger, string method, string path, string query, int statusCode, double elapsedMs, string? remoteIp);
    }

    /// <summary>RLIMIT_NOFILE: the soft limit is raised to the hard one; the result bounds how many sockets may be open.</summary>
    private static class FileDescriptors
    {
        private const int RlimitNofile = 7; // Linux

        [StructLayout(LayoutKind.Sequential)]
        private struct RLimit
        {
            public ulong Current;
            public ulong Max;
        }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; two blittable calls do not justify it.
        [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
        private static extern int GetRLimit(int resource, out RLimit limit);

        [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
        private static extern int SetRLimit(int resource, ref RLimit limit);
#pragma warning restore SYSLIB1054

        public static long? RaiseSoftLimit()
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }
            try
            {
                if (GetRLimit(RlimitNofile, out var limit) != 0)
                {
                    return null;
                }
                if (limit.Current < limit.Max && limit.Max != ulong.MaxValue)
                {
                    var raised = new RLimit { Current = limit.Max, Max = limit.Max };
                    if (SetRLimit(RlimitNofile, ref raised) == 0)
                    {
                        limit = raised;
                    }
                }
                return limit.Current >= long.MaxValue ? null : (long)limit.Current;
            }
            catch (DllNotFoundException)
            {
                return null;
            }
            catch (EntryPointNotFoundException)
            {
                return null;
            }
        }
    }
}
