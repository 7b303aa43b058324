using Microsoft.Extensions.DependencyInjection;
using System.Security.Claims;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using CollabAkka.Web.Authorization;
using CollabAkka.Web.Sessions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace CollabAkka.Web.Hubs;

/// <summary>
/// The edge of the node. Thin by design: validate, authorize, wrap in an envelope, hand to the router,
/// map the reply to the wire. It holds no state; sessions live in <see cref="ConnectionRegistry"/>,
/// resources in entities. Every method takes one JSON object and answers an <see cref="ApiResponse"/>.
/// </summary>
[Authorize]
public sealed partial class CollabHub(
    IEntityRouter router,
    ConnectionRegistry registry,
    SessionLifecycle lifecycle,
    IAuditSink audit,
    [FromKeyedServices(CollabTime.Key)] TimeProvider time,
    NodeIdentity node,
    IOptions<ConnectionOptions> connectionOptions,
    IOptions<DocumentOptions> documentOptions,
    ResourceReadGuard readGuard,
    IStoreCircuits circuits,
    PresenceReRegistration reRegistration,
    NodeDrain drain) : Hub
{
    internal static readonly JsonSerializerOptions RequestJson = new(JsonSerializerDefaults.Web);

    /// <summary>How often one command re-joins a resource whose entity keeps moving under it (see <see cref="SendAsync"/>).</summary>
    private const int MaxReJoins = 3;

    private ConnectionOptions Options => connectionOptions.Value;

    public override async Task OnConnectedAsync()
    {
        var now = time.GetUtcNow();
        var member = CreateMember(Context);
        var http = Context.GetHttpContext();
        var transport = Context.Features.Get<IHttpTransportFeature>()?.TransportType.ToString() ?? "Unknown";
        var session = new Session(member, transport, now, Context.Abort, SessionRevocations.IssuedAt(Context.User));
        if (drain.IsDraining)
        {
            // Shutting down: this connection is told to go elsewhere at once (the load balancer picks another node).
            await Clients.Caller.SendAsync(EventNames.ConnectionClosing, NodeDrain.Closing).ConfigureAwait(false);
            throw new HubException($"{ErrorCodes.Unavailable}: this node is shutting down (reason {NodeDrain.NodeShutdownReason}); reconnect to another node.");
        }
        if (!registry.TryRegister(session, Options.MaxConnectionsPerUser, out var existing))
        {
            var message = $"User {member.UserId} already has {existing} open connections; the limit is " +
                          $"{Options.MaxConnectionsPerUser} (Collab:Connections:MaxConnectionsPerUser).";
            audit.Record(Audit(AuditEventTypes.ConnectionRejected, member, now, new Dictionary<string, object?>
            {
                ["code"] = ErrorCodes.MaxConnectionsReached,
                ["reason"] = message,
            }));
            await Clients.Caller.SendAsync(EventNames.Error, new ApiError(ErrorCodes.MaxConnectionsReached, message)).ConfigureAwait(false);
            // A HubException's message reaches the client in the close frame, so the refusal is readable there too.
            throw new HubException($"{ErrorCodes.MaxConnectionsReached}: {message}");
        }
        audit.Record(Audit(AuditEventTypes.Connect, member, now, new Dictionary<string, object?>
        {
            ["transport"] = transport,
            ["path"] = http?.Request.Path.Value,
        }));
        await Clients.Caller.SendAsync(EventNames.Connected, new ConnectedEvent(
            member.SessionId, member.UserId, member.Username, member.Role, now, node.NodeId,
            Options.SessionTtl.TotalSeconds, Options.HeartbeatInterval.TotalSeconds)).ConfigureAwait(false);
    }

    public override Task OnDisconnectedAsync(Exception? exception) =>
        lifecycle.EndAsync(Context.ConnectionId, exception is null ? "disconnected" : "connection_lost", exception?.Message);

    [HubMethodName(MethodNames.Join)]
    public async Task<ApiResponse> JoinAsync(JsonElement request)
    {
        if (!TryBind<JoinRequest>(request, out var join, out var invalid))
        {
            return invalid;
        }
        if (!TryResource(join.ResourceId, join.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        JoinMode mode;
        switch (join.Mode)
        {
            case null or "viewer":
                mode = JoinMode.Viewer;
                break;
            case "editor":
                mode = JoinMode.Editor;
                break;
            default:
                return Fail(join.RequestId, ErrorCodes.ValidationFailed, "mode must be 'editor' or 'viewer'.");
        }
        var session = CurrentSession();
        if (await CheckReadAsync(session.Member, resourceId, join.RequestId).ConfigureAwait(false) is { } refused)
        {
            return refused;
        }
        session.AddRoot(resourceId.Root.Value);
        var joined = await SendAsync(resourceId, join.RequestId, new JoinResource(resourceId, session.Member, mode)).ConfigureAwait(false);
        if (joined.Success)
        {
            session.Joined(resourceId, mode); // re-registered with this mode if the entity moves (PresenceReRegistration)
        }
        return joined;
    }

    [HubMethodName(MethodNames.Leave)]
    public async Task<ApiResponse> LeaveAsync(JsonElement request)
    {
        if (!TryBind<LeaveRequest>(request, out var leave, out var invalid) ||
            !TryResource(leave.ResourceId, leave.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        var left = await SendAsync(resourceId, leave.RequestId, new LeaveResource(resourceId, Context.ConnectionId)).ConfigureAwait(false);
        if (left.Success)
        {
            registry.Get(Context.ConnectionId)?.Left(resourceId);
        }
        return left;
    }

    [HubMethodName(MethodNames.Heartbeat)]
    public ApiResponse Heartbeat(JsonElement request)
    {
        if (!TryBind<HeartbeatRequest>(request, out var heartbeat, out var invalid))
        {
            return invalid;
        }
        // The filter already renewed the session; answer with when it now expires.
        var now = time.GetUtcNow();
        return ApiResponse.Ok(heartbeat.RequestId, now, new HeartbeatAck(now, now + Options.SessionTtl));
    }

    [HubMethodName(MethodNames.LockAcquire)]
    public async Task<ApiResponse> AcquireLockAsync(JsonElement request)
    {
        if (!TryBind<AcquireLockRequest>(request, out var acquire, out var invalid) ||
            !TryResource(acquire.ResourceId, acquire.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        return await SendAsync(resourceId, acquire.RequestId, new AcquireLock(resourceId, CurrentSession().Member, acquire.TtlSeconds))
            .ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.LockRelease)]
    public async Task<ApiResponse> ReleaseLockAsync(JsonElement request)
    {
        if (!TryBind<LockRequest>(request, out var release, out var invalid) ||
            !TryResource(release.ResourceId, release.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        return await SendAsync(resourceId, release.RequestId, new ReleaseLock(resourceId, CurrentSession().Member)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.LockHeartbeat)]
    public async Task<ApiResponse> RenewLockAsync(JsonElement request)
    {
        if (!TryBind<LockRequest>(request, out var renew, out var invalid) ||
            !TryResource(renew.ResourceId, renew.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        return await SendAsync(resourceId, renew.RequestId, new RenewLock(resourceId, CurrentSession().Member)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.LockForceRelease)]
    public async Task<ApiResponse> ForceReleaseLockAsync(JsonElement request)
    {
        if (!TryBind<ForceReleaseRequest>(request, out var force, out var invalid) ||
            !TryResource(force.ResourceId, force.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        if (string.IsNullOrWhiteSpace(force.Reason) || force.Reason.Length > 500)
        {
            return Fail(force.RequestId, ErrorCodes.ValidationFailed, "A reason (1-500 characters) is required to force-release a lock.",
                new { field = "reason" });
        }
        return await SendAsync(resourceId, force.RequestId, new ForceReleaseLock(resourceId, CurrentSession().Member, force.Reason, force.LockId))
            .ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.LockRequest)]
    public async Task<ApiResponse> RequestLockAsync(JsonElement request)
    {
        if (!TryBind<LockHandoverRequest>(request, out var ask, out var invalid) ||
            !TryResource(ask.ResourceId, ask.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        // The length limit (Collab:Entities:MaxLockRequestReasonLength) is the entity's to check.
        return await SendAsync(resourceId, ask.RequestId, new RequestLock(resourceId, CurrentSession().Member, ask.Reason)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.LockRequestAnswer)]
    public async Task<ApiResponse> AnswerLockRequestAsync(JsonElement request)
    {
        if (!TryBind<LockRequestAnswerRequest>(request, out var answer, out var invalid) ||
            !TryResource(answer.ResourceId, answer.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        if (string.IsNullOrEmpty(answer.LockRequestId) || answer.LockRequestId.Length > 64)
        {
            return Fail(answer.RequestId, ErrorCodes.ValidationFailed, "lockRequestId (1-64 characters) is required.", new { field = "lockRequestId" });
        }
        if (answer.Answer is not ("hand-over" or "decline"))
        {
            return Fail(answer.RequestId, ErrorCodes.ValidationFailed, "answer must be 'hand-over' or 'decline'.", new { field = "answer" });
        }
        return await SendAsync(resourceId, answer.RequestId,
            new AnswerLockRequest(resourceId, CurrentSession().Member, answer.LockRequestId, answer.Answer == "hand-over")).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.DocSync)]
    public async Task<ApiResponse> SyncDocumentAsync(JsonElement request)
    {
        if (!TryBind<DocSyncRequest>(request, out var sync, out var invalid) ||
            !TryResource(sync.ResourceId, sync.RequestId, out var resourceId, out invalid) ||
            !TryBytes(sync.StateVector, sync.RequestId, "stateVector", UpdateLimit, allowEmpty: true, out var stateVector, out invalid))
        {
            return invalid;
        }
        return await SendAsync(resourceId, sync.RequestId, new SyncDocument(resourceId, Context.ConnectionId, stateVector)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.DocUpdate)]
    public async Task<ApiResponse> UpdateDocumentAsync(JsonElement request)
    {
        if (!TryBind<DocUpdateRequest>(request, out var update, out var invalid) ||
            !TryResource(update.ResourceId, update.RequestId, out var resourceId, out invalid) ||
            !TryBytes(update.Update, update.RequestId, "update", UpdateLimit, allowEmpty: false, out var bytes, out invalid))
        {
            return invalid;
        }
        if (circuits.RefusesWrites(out var why))
        {
            return Fail(update.RequestId, ErrorCodes.Unavailable, why); // at once: the store's breaker is open
        }
        return await SendAsync(resourceId, update.RequestId, new ApplyDocumentUpdate(resourceId, CurrentSession().Member, bytes)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.AwarenessUpdate)]
    public async Task<ApiResponse> UpdateAwarenessAsync(JsonElement request)
    {
        if (!TryBind<AwarenessRequest>(request, out var awareness, out var invalid) ||
            !TryResource(awareness.ResourceId, awareness.RequestId, out var resourceId, out invalid) ||
            !TryBytes(awareness.Update, awareness.RequestId, "update", AwarenessLimit, allowEmpty: false, out var bytes, out invalid))
        {
            return invalid;
        }
        return await SendAsync(resourceId, awareness.RequestId, new RelayAwareness(resourceId, CurrentSession().Member, bytes)).ConfigureAwait(false);
    }

    [HubMethodName(MethodNames.ResourceUpdate)]
    public async Task<ApiResponse> UpdateFieldAsync(JsonElement request)
    {
        if (!TryBind<ResourceUpdateRequest>(request, out var update, out var invalid) ||
            !TryResource(update.ResourceId, update.RequestId, out var resourceId, out invalid))
        {
            return invalid;
        }
        if (string.IsNullOrEmpty(update.Field) || update.Field.Length > 128)
        {
            return Fail(update.RequestId, ErrorCodes.ValidationFailed, "field (1-128 characters) is required.", new { field = "field" });
        }
        if (update.Revision is null)
        {
            return Fail(update.RequestId, ErrorCodes.ValidationFailed, "revision (the revision the value was read at) is required.", new { field = "revision" });
        }
        if (update.Value.ValueKind == JsonValueKind.Undefined || update.Value.GetRawText().Length > documentOptions.Value.MaxUpdateBytes)
        {
            return Fail(update.RequestId, ErrorCodes.PayloadTooLarge,
                $"value is missing or larger than {documentOptions.Value.MaxUpdateBytes} bytes (Collab:Documents:MaxUpdateBytes).");
        }
        if (!JsonText.IsValidText(update.Value))
        {
            return Fail(update.RequestId, ErrorCodes.ValidationFailed, "value holds text that is not valid UTF-16 (a lone surrogate).", new { field = "value" });
        }
        if (circuits.RefusesWrites(out var why))
        {
            return Fail(update.RequestId, ErrorCodes.Unavailable, why);
        }
        return await SendAsync(resourceId, update.RequestId,
            new SetDocumentField(resourceId, CurrentSession().Member, update.Field, RawJson.From(update.Value), update.Revision)).ConfigureAwait(false);
    }

    // canView (resources.yml) and the host's authorizer (Collab:Authorization), before the entity sees the join.
    private async Task<ApiResponse?> CheckReadAsync(MemberInfo member, ResourceId resourceId, string? requestId)
    {
        var decision = await readGuard.CheckAsync(Context.User ?? new ClaimsPrincipal(), member.UserId, member.Role, resourceId,
            Context.ConnectionAborted).ConfigureAwait(false);
        if (decision.Allowed)
        {
            return null;
        }
        audit.Record(AuditEvent.For(member, AuditEventTypes.JoinDenied, time.GetUtcNow(), resourceId.Value, requestId,
            new Dictionary<string, object?> { ["code"] = decision.Code, ["reason"] = decision.Reason }));
        return Fail(requestId, decision.Code ?? ErrorCodes.PermissionDenied, decision.Reason ?? "Access refused.");
    }

    private (int Bytes, string Setting) UpdateLimit => (documentOptions.Value.MaxUpdateBytes, "Collab:Documents:MaxUpdateBytes");

    private (int Bytes, string Setting) AwarenessLimit => (documentOptions.Value.MaxAwarenessBytes, "Collab:Documents:MaxAwarenessBytes");

    /// <summary>Decodes a base64 field and enforces its configured size limit (the refusal names the setting).</summary>
    private bool TryBytes(string? base64, string? requestId, string field, (int Bytes, string Setting) limit, bool allowEmpty, out byte[] bytes, out ApiResponse invalid)
    {
        var (maxBytes, setting) = limit;
        bytes = [];
        invalid = null!;
        if (string.IsNullOrEmpty(base64))
        {
            if (allowEmpty)
            {
                return true;
            }
            invalid = Fail(requestId, ErrorCodes.ValidationFailed, $"{field} (base64) is required.", new { field });
            return false;
        }
        if ((long)base64.Length * 3 / 4 > maxBytes + 2)
        {
            invalid = Fail(requestId, ErrorCodes.PayloadTooLarge,
                $"{field} is larger than {maxBytes} bytes; the limit is configured by {setting}.", new { field, maxBytes });
            return false;
        }
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            invalid = Fail(requestId, ErrorCodes.InvalidUpdate, $"{field} is not valid base64.", new { field });
            return false;
        }
        if (bytes.Length > maxBytes)
        {
            invalid = Fail(requestId, ErrorCodes.PayloadTooLarge,
                $"{field} is larger than {maxBytes} bytes; the limit is configured by {setting}.", new { field, maxBytes });
            return false;
        }
        return true;
    }

    private async Task<ApiResponse> SendAsync(ResourceId resourceId, string? requestId, IEntityCommand command)
    {
        var correlationId = requestId ?? Guid.NewGuid().ToString("N");
        var reply = await router.SendAsync(new EntityEnvelope(resourceId, correlationId, command), Context.ConnectionAborted)
            .ConfigureAwait(false);
        // After a move the new incarnation may meet this command before the node's re-registration of the connection
        // (PresenceReRegistration): NOT_JOINED changed nothing, so re-join at once and send it again, transparently.
        // During a rolling restart the entity can move again between the re-join and the retry, so this repeats a few
        // times; a re-join the entity could not take now (UNAVAILABLE: it is being handed off or loaded) is answered as
        // UNAVAILABLE, which clients retry, not as NOT_JOINED, which they would have to handle.
        for (var attempt = 0;
             attempt < MaxReJoins && reply.Error?.Code == ErrorCodes.NotJoined && command is not (JoinResource or LeaveResource) &&
             registry.Get(Context.ConnectionId) is { } session;
             attempt++)
        {
            if (await reRegistration.ReJoinNowAsync(session, resourceId, correlationId, Context.ConnectionAborted).ConfigureAwait(false) is not { } rejoined)
            {
                break; // this connection never joined the resource: NOT_JOINED is the true answer
            }
            if (!rejoined.Success && rejoined.Error?.Code != ErrorCodes.AlreadyJoined)
            {
                if (rejoined.Error?.Code == ErrorCodes.Unavailable)
                {
                    reply = rejoined;
                }
                break;
            }
            reply = await router.SendAsync(new EntityEnvelope(resourceId, correlationId, command), Context.ConnectionAborted).ConfigureAwait(false);
        }
        var now = time.GetUtcNow();
        return reply.Error is { } error
            ? ApiResponse.Fail(requestId, now, error.ToWire())
            : ApiResponse.Ok(requestId, now, reply.Data, reply.NewRevision);
    }

    private Session CurrentSession() =>
        registry.Get(Context.ConnectionId) ?? throw new HubException("The session of this connection has ended.");

    private bool TryBind<T>(JsonElement request, out T value, out ApiResponse invalid)
        where T : class
    {
        value = null!;
        invalid = null!;
        if (request.ValueKind != JsonValueKind.Object)
        {
            invalid = Fail(null, ErrorCodes.ValidationFailed, "The argument must be a JSON object.");
            return false;
        }
        string? requestId = null;
        if (request.TryGetProperty("requestId", out var rid))
        {
            // A lone UTF-16 surrogate cannot become a string: refused like any bad field (issue 12 item 4).
            if (!JsonText.TryGetString(rid, out requestId) || requestId!.Length > Options.MaxRequestIdLength)
            {
                invalid = Fail(null, ErrorCodes.ValidationFailed,
                    $"requestId must be a string of at most {Options.MaxRequestIdLength} characters of valid UTF-16 (Collab:Connections:MaxRequestIdLength).",
                    new { field = "requestId" });
                return false;
            }
        }
        try
        {
            value = request.Deserialize<T>(RequestJson)!;
            return true;
        }
        catch (JsonException ex)
        {
            invalid = Fail(requestId, ErrorCodes.ValidationFailed, $"The request does not have the expected shape: {ex.Message}");
            return false;
        }
        catch (InvalidOperationException)
        {
            invalid = Fail(requestId, ErrorCodes.ValidationFailed, "A string field of the request is not valid UTF-16 (a lone surrogate).");
            return false;
        }
    }

    private bool TryResource(string? text, string? requestId, out ResourceId resourceId, out ApiResponse invalid)
    {
        if (ResourceId.TryParse(text, out resourceId, out var error))
        {
            invalid = null!;
            return true;
        }
        invalid = Fail(requestId, ErrorCodes.ValidationFailed, error, new { field = "resourceId" });
        return false;
    }

    private ApiResponse Fail(string? requestId, string code, string message, object? details = null) =>
        ApiResponse.Fail(requestId, time.GetUtcNow(), new ApiError(code, message, details));

    private MemberInfo CreateMember(HubCallerContext context)
    {
        var user = context.User ?? new ClaimsPrincipal();
        var http = context.GetHttpContext();
        var userId = user.FindFirst("sub")?.Value ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "unknown";
        var name = user.FindFirst("name")?.Value ?? userId;
        var role = user.FindFirst("role")?.Value ?? user.FindFirst(ClaimTypes.Role)?.Value ?? ""; // no role: canView refuses
        return new MemberInfo(
            context.ConnectionId,
            Guid.CreateVersion7().ToString("N"),
            userId,
            name,
            role,
            node.NodeId,
            http?.Connection.RemoteIpAddress?.ToString(),
            http is null ? null : Truncate(http.Request.Headers.UserAgent.ToString(), 512));
    }

    private static string? Truncate(string? text, int max) =>
        string.IsNullOrEmpty(text) ? null : text.Length <= max ? text : text[..max];

    private static AuditEvent Audit(string type, MemberInfo member, DateTimeOffset now, IReadOnlyDictionary<string, object?> details) =>
        AuditEvent.For(member, type, now, details: details);
}
