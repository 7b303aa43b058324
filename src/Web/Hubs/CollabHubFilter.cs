using System.Text.Json;
using System.Collections.Concurrent;
using System.Reflection;
using CollabAkka.Entities.Routing;
using Microsoft.Extensions.DependencyInjection;
using CollabAkka.Messages;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Http;
using CollabAkka.Web.Security;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// Around every invocation: renew the session (activity), enforce the per-connection rate, put the
/// session in the logging scope, and turn an unexpected failure into an INTERNAL_ERROR answer so the
/// connection survives it.
/// </summary>
public sealed partial class CollabHubFilter(
    ConnectionRegistry registry,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    IOptions<ConnectionOptions> options,
    NodeMetrics metrics,
    RefusedWriteAuditor refusedWrites,
    ILogger<CollabHubFilter> logger) : IHubFilter
{
    // The wire name ("resource:join"), not the C# name, for logs and metrics.
    private static readonly ConcurrentDictionary<MethodInfo, string> WireNames = new();

    public async ValueTask<object?> InvokeMethodAsync(
        HubInvocationContext invocationContext,
        Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var now = time.GetUtcNow();
        var method = WireNames.GetOrAdd(invocationContext.HubMethod,
            static m => m.GetCustomAttribute<HubMethodNameAttribute>()?.Name ?? m.Name);
        var session = registry.Get(invocationContext.Context.ConnectionId);
        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["SessionId"] = session?.SessionId,
            ["UserId"] = session?.UserId,
            ["HubMethod"] = method,
        });
        if (session is not null)
        {
            session.Touch(now);
            var o = options.Value;
            if (!session.TryConsumeInvocation(now, o.InvocationsPerSecond, o.InvocationBurst))
            {
                metrics.Invocations.Add(1, new KeyValuePair<string, object?>("method", method),
                    new KeyValuePair<string, object?>("outcome", ErrorCodes.RateLimited));
                refusedWrites.Refused(session.Member, method, ErrorCodes.RateLimited, ResourceIdOf(invocationContext), now);
                return ApiResponse.Fail(RequestIdOf(invocationContext), now, new ApiError(ErrorCodes.RateLimited,
                    $"More than {o.InvocationsPerSecond} invocations per second (burst {o.InvocationBurst}); " +
                    "configured by Collab:Connections:InvocationsPerSecond and InvocationBurst.",
                    new { retryAfterMs = (int)Math.Ceiling(1000 / o.InvocationsPerSecond) }));
            }
        }
        try
        {
            var result = await next(invocationContext).ConfigureAwait(false);
            metrics.Invocations.Add(1, new KeyValuePair<string, object?>("method", method),
                new KeyValuePair<string, object?>("outcome", result is ApiResponse { Error: { } error } ? error.Code : "ok"));
            if (result is ApiResponse { Error: { } refused } && session is not null)
            {
                refusedWrites.Refused(session.Member, method, refused.Code, ResourceIdOf(invocationContext), time.GetUtcNow());
            }
            return result;
        }
        catch (HubException)
        {
            throw;
        }
        catch (OperationCanceledException) when (invocationContext.Context.ConnectionAborted.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // The connection must survive a bug in one invocation.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            FilterLog.InvocationFailed(logger, ex, method);
            return ApiResponse.Fail(RequestIdOf(invocationContext), time.GetUtcNow(),
                new ApiError(ErrorCodes.Internal, "The server failed to handle the request."));
        }
    }

    public async Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        if (registry.Get(context.Context.ConnectionId) is { } session)
        {
            refusedWrites.Ended(session.Member, time.GetUtcNow());
        }
        await next(context, exception).ConfigureAwait(false);
    }

    /// <summary>The caller's requestId, so even answers made here can be matched to the request.</summary>
    private string? RequestIdOf(HubInvocationContext context) => StringField(context, "requestId", options.Value.MaxRequestIdLength);

    private static string? ResourceIdOf(HubInvocationContext context) => StringField(context, "resourceId", ResourceId.MaxLength);

    /// <summary>A string field of the request object, or null when absent, too long or not valid UTF-16 (a lone surrogate).</summary>
    private static string? StringField(HubInvocationContext context, string name, int maxLength) =>
        context.HubMethodArguments is [JsonElement { ValueKind: JsonValueKind.Object } request] &&
        request.TryGetProperty(name, out var value) && JsonText.TryGetString(value, out var text) && text!.Length <= maxLength
            ? text
            : null;

    private static partial class FilterLog
    {
        [LoggerMessage(EventId = 3200, Level = LogLevel.Error, Message = "Hub method {Method} failed.")]
        public static partial void InvocationFailed(ILogger logger, Exception exception, string method);
    }
}
