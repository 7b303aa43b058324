using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.TestKit;
using CollabAkka.Web.Auth;
using CollabAkka.Web.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

/// <summary>POST /api/webhooks/resource-updated: signed deliveries reach joined clients; every refusal has its code and audit record.</summary>
public sealed class WebhookTests : IAsyncLifetime
{
    private const string Secret = "emr-secret-0123456789abcdef";
    private const string Rotated = "emr-secret-rotated-9876543210";
    private CollabTestNode _node = null!;

    public async Task InitializeAsync() => _node = await CollabTestNode.StartAsync(new CollabTestNodeOptions
    {
        Settings =
        {
            ["Collab:Webhooks:Sources:EMR:Secrets:0"] = Secret,
            ["Collab:Webhooks:Sources:EMR:Secrets:1"] = Rotated,
            ["Collab:Webhooks:Sources:EMR:AllowedIPs:0"] = "127.0.0.0/8",
            ["Collab:Webhooks:Sources:EMR:AllowedIPs:1"] = "::1",
            ["Collab:Webhooks:Sources:PACS:Secrets:0"] = "pacs-secret-0123456789abcdef",
            ["Collab:Webhooks:Sources:PACS:AllowedIPs:0"] = "10.20.30.0/24",
            ["Collab:Webhooks:Sources:BULK:Secrets:0"] = "bulk-secret-0123456789abcdef",
        },
    });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static byte[] Body(string resourceId, string action = "updated", string source = "EMR", string? deliveryId = null, object? data = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            resourceType = resourceId[..resourceId.IndexOf(':', StringComparison.Ordinal)],
            resourceId,
            action,
            data = data ?? new { status = "final", secretDiagnosis = "do-not-audit" },
            timestamp = DateTimeOffset.UtcNow,
            source,
            deliveryId = deliveryId ?? Guid.NewGuid().ToString("N"),
        });

    private async Task<HttpResponseMessage> PostAsync(byte[] body, string source = "EMR", string secret = Secret, long? timestamp = null,
        string? signature = null, Action<HttpRequestMessage>? tweak = null)
    {
        var ts = (timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds()).ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, WebhookEndpoints.Path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(WebhookEndpoints.SourceHeader, source);
        request.Headers.Add(WebhookEndpoints.TimestampHeader, ts);
        request.Headers.Add(WebhookEndpoints.SignatureHeader, signature ?? WebhookEndpoints.Sign(secret, ts, body));
        tweak?.Invoke(request);
        return await _node.Http.SendAsync(request);
    }

    private static async Task<(string Code, string Reason)> ProblemAsync(HttpResponseMessage response)
    {
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (problem.GetProperty("code").GetString()!, problem.GetProperty("details").GetProperty("reason").GetString()!);
    }

    private async Task<IReadOnlyList<AuditEvent>> AuditAsync(string type) =>
        (await _node.QueryAuditAsync(new AuditQuery { EventType = type, Limit = 1000 })).Select(e => e.Event).ToList();

    [Fact]
    public async Task AValidDeliveryReachesTheClientsJoinedToThatResourceOnlyAndTheFamilyForARoot()
    {
        var root = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("wh-alice");
        await using var bob = await _node.ConnectAsync("wh-bob");
        await using var carol = await _node.ConnectAsync("wh-carol");
        Assert.True((await alice.JoinAsync($"{root}/tab:a", "viewer")).Success);
        Assert.True((await bob.JoinAsync($"{root}/tab:b", "viewer")).Success);
        Assert.True((await carol.JoinAsync(Ids.Unique("document:"), "viewer")).Success);

        using var response = await PostAsync(Body($"{root}/tab:a", "signed"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("broadcasted", answer.GetProperty("status").GetString());
        Assert.Equal(1, answer.GetProperty("recipients").GetInt32());
        var ev = await alice.WaitForAsync("resource:updated");
        Assert.Equal($"{root}/tab:a", ev.GetProperty("resourceId").GetString());
        Assert.Equal("signed", ev.GetProperty("payload").GetProperty("action").GetString());
        Assert.Equal("final", ev.GetProperty("payload").GetProperty("data").GetProperty("status").GetString());
        Assert.Equal("EMR", ev.GetProperty("triggeredBy").GetProperty("userId").GetString());

        using var toRoot = await PostAsync(Body(root));
        Assert.Equal(2, (await toRoot.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("recipients").GetInt32());
        var atBob = await bob.WaitForAsync("resource:updated");
        Assert.Equal(root, atBob.GetProperty("resourceId").GetString());
        Assert.Single(bob.EventsNamed("resource:updated")); // the tab:a delivery did not reach bob (events arrive in order)
        await alice.WaitForAsync("resource:updated", e => e.GetProperty("resourceId").GetString() == root);
        Assert.Empty(carol.EventsNamed("resource:updated"));

        var received = (await AuditAsync(AuditEventTypes.WebhookReceived)).Where(e => e.ResourceId == $"{root}/tab:a").ToList();
        var record = Assert.Single(received);
        Assert.Equal("EMR", record.UserId);
        Assert.Equal(1, ((JsonElement)record.Details!["recipients"]!).GetInt32());
        Assert.Equal("signed", ((JsonElement)record.Details["action"]!).GetString());
        Assert.DoesNotContain("do-not-audit", JsonSerializer.Serialize(record));
    }

    [Fact]
    public async Task TheSecondSecretOfARotationAndAWebhookTokenAreAccepted()
    {
        using (var rotated = await PostAsync(Body(Ids.Unique("document:")), secret: Rotated))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        }
        var token = _node.Services.GetRequiredService<DevTokenIssuer>().IssueWithClaims(
            [new Claim("sub", "HL7_FEED"), new Claim("name", "HL7 feed"), new Claim("role", "webhook")]);
        using var request = new HttpRequestMessage(HttpMethod.Post, WebhookEndpoints.Path) { Content = new ByteArrayContent(Body(Ids.Unique("document:"), source: "HL7_FEED")) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var viaToken = await _node.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, viaToken.StatusCode);
    }

    public static TheoryData<string, HttpStatusCode, string, string> Refusals => new()
    {
        { "bad_signature", HttpStatusCode.Unauthorized, "UNAUTHORIZED", "bad_signature" },
        { "stale_timestamp", HttpStatusCode.Unauthorized, "UNAUTHORIZED", "stale_timestamp" },
        { "unknown_source", HttpStatusCode.Unauthorized, "UNAUTHORIZED", "unknown_source" },
        { "ip_not_allowed", HttpStatusCode.Forbidden, "PERMISSION_DENIED", "ip_not_allowed" },
        { "body_too_large", HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "body_too_large" },
        { "invalid_payload", HttpStatusCode.BadRequest, "VALIDATION_FAILED", "invalid_payload" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task EachRefusalHasItsCodeReachesNoClientAndIsAudited(string what, HttpStatusCode status, string code, string reason)
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("wh-refusal");
        Assert.True((await alice.JoinAsync(doc, "viewer")).Success);
        var correlation = Guid.NewGuid().ToString("N");
        void Correlate(HttpRequestMessage r) => r.Headers.Add("X-Correlation-Id", correlation);

        using var response = what switch
        {
            "bad_signature" => await PostAsync(Body(doc), secret: "not-the-secret-0123456789", tweak: Correlate),
            "stale_timestamp" => await PostAsync(Body(doc), timestamp: DateTimeOffset.UtcNow.AddSeconds(-301).ToUnixTimeSeconds(), tweak: Correlate),
            "unknown_source" => await PostAsync(Body(doc, source: "EVIL"), source: "EVIL", tweak: Correlate),
            "ip_not_allowed" => await PostAsync(Body(doc, source: "PACS"), source: "PACS", secret: "pacs-secret-0123456789abcdef", tweak: Correlate),
            "body_too_large" => await PostAsync(Body(doc, data: new { blob = new string('x', WebhookOptions.DefaultMaxBodyBytes) }), tweak: Correlate),
            _ => await PostAsync(Body(doc, action: "exploded"), tweak: Correlate),
        };

        Assert.Equal(status, response.StatusCode);
        Assert.Equal((code, reason), await ProblemAsync(response));
        var rejected = (await _node.QueryAuditAsync(new AuditQuery { EventType = AuditEventTypes.WebhookRejected, CorrelationId = correlation }))
            .Select(e => e.Event).ToList();
        Assert.Equal(reason, ((JsonElement)Assert.Single(rejected).Details!["reason"]!).GetString());
        Assert.Empty(alice.EventsNamed("resource:updated"));
    }

    [Fact]
    public async Task AReplayIsAnsweredAsTheFirstTimeButNotBroadcastAgain()
    {
        var doc = Ids.Unique("document:");
        await using var alice = await _node.ConnectAsync("wh-replay");
        Assert.True((await alice.JoinAsync(doc, "viewer")).Success);
        var body = Body(doc, deliveryId: "delivery-42-" + doc);
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using var first = await PostAsync(body, timestamp: ts);
        var firstAnswer = await first.Content.ReadAsStringAsync();
        await alice.WaitForAsync("resource:updated");
        using var sameRequest = await PostAsync(body, timestamp: ts); // a captured request sent again
        using var sameIdNewSignature = await PostAsync(body, timestamp: ts + 1);

        Assert.Equal(HttpStatusCode.OK, sameRequest.StatusCode);
        Assert.Equal(firstAnswer, await sameRequest.Content.ReadAsStringAsync());
        Assert.Equal("true", sameRequest.Headers.GetValues(WebhookEndpoints.ReplayedHeader).Single());
        Assert.Equal(firstAnswer, await sameIdNewSignature.Content.ReadAsStringAsync());
        using var after = await PostAsync(Body(doc)); // a new delivery still goes through, after the replays
        await alice.WaitForAsync("resource:updated", e => e.GetProperty("payload").GetProperty("deliveryId").GetString() != "delivery-42-" + doc);
        Assert.Equal(2, alice.EventsNamed("resource:updated").Count);
        var replays = (await AuditAsync(AuditEventTypes.WebhookRejected)).Where(e => e.ResourceId == doc).ToList();
        Assert.Equal(2, replays.Count);
        Assert.All(replays, r => Assert.Equal("replay", ((JsonElement)r.Details!["reason"]!).GetString()));
    }

    [Fact]
    public async Task MoreThanOneHundredDeliveriesAMinuteFromOneSourceAreRefusedWithRetryAfter()
    {
        var doc = Ids.Unique("document:");
        for (var i = 0; i < WebhookOptions.DefaultRequestsPerMinute; i++)
        {
            using var ok = await PostAsync(Body(doc, source: "BULK"), source: "BULK", secret: "bulk-secret-0123456789abcdef");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using var refused = await PostAsync(Body(doc, source: "BULK"), source: "BULK", secret: "bulk-secret-0123456789abcdef");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(("RATE_LIMITED", "rate_limited"), await ProblemAsync(refused));
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        Assert.Contains(await AuditAsync(AuditEventTypes.WebhookRejected),
            e => e.UserId == "BULK" && ((JsonElement)e.Details!["reason"]!).GetString() == "rate_limited");
        using var other = await PostAsync(Body(doc)); // another source has its own budget
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }
}
