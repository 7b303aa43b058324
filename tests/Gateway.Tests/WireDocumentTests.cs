using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using CollabAkka.Messages;
using CollabAkka.Node.Hosting;
using CollabAkka.TestKit;
using CollabAkka.Web.Http;
using CollabAkka.Web.Hubs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Gateway.Tests;

/// <summary>The API documents: AsyncAPI for the hub (generated from the records), OpenAPI for HTTP, the committed copies.</summary>
public sealed class WireDocumentTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private CollabTestNode Node => fixture.Node;

    [Fact]
    public async Task TheAsyncApiDocumentHasEveryHubMethodEventAndErrorCode()
    {
        var doc = await Node.Http.GetFromJsonAsync<JsonElement>("/asyncapi.json");
        var operations = doc.GetProperty("operations").EnumerateObject()
            .ToDictionary(o => $"{o.Value.GetProperty("action").GetString()} {o.Value.GetProperty("title").GetString()}", o => o.Value);

        // Every method the hub really has (by reflection over CollabHub, not over a list that could be stale).
        var hubMethods = typeof(CollabHub).GetMethods().Select(m => m.GetCustomAttribute<HubMethodNameAttribute>()?.Name).OfType<string>().ToList();
        Assert.Equal(MethodNames.All.Order(), hubMethods.Order());
        foreach (var method in hubMethods)
        {
            Assert.True(operations.TryGetValue($"receive {method}", out var op), $"hub method {method} is missing from the AsyncAPI document");
            Assert.True(op.TryGetProperty("reply", out _), $"{method} has no reply");
        }
        foreach (var ev in EventNames.All)
        {
            Assert.True(operations.ContainsKey($"send {ev}"), $"event {ev} is missing from the AsyncAPI document");
        }
        var codes = doc.GetProperty("components").GetProperty("schemas").GetProperty("ErrorCode").GetProperty("enum")
            .EnumerateArray().Select(c => c.GetString()!).ToList();
        Assert.Equal(ErrorCodes.All, codes);

        // Schemas come from the records: a property of a request record and of an event payload.
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("JoinRequest").GetProperty("properties").TryGetProperty("mode", out _));
        Assert.Contains("deliveryId", schemas.GetProperty("ResourceUpdatedPayload").GetProperty("required").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void EveryMessageRecordInTheCatalogIsInTheDocument()
    {
        var json = WireDocuments.AsyncApi().ToJsonString();
        foreach (var type in WireCatalog.Methods.SelectMany(m => new[] { m.Request, m.Result }).Concat(WireCatalog.Events.Select(e => e.Payload)).OfType<Type>())
        {
            Assert.Contains($"\"#/components/schemas/{type.Name}\"", json, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheCommittedAsyncApiYamlAndTypeScriptTypesMatchTheRecords()
    {
        const string hint = " differs from what the message records generate; run `dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll wire-docs docs`.";
        var yaml = File.ReadAllText(ConfigurationTests.RepoFile("docs", WireDocsCommand.AsyncApiFile));
        Assert.True(yaml == WireDocsCommand.AsyncApiYaml(), "docs/asyncapi.yaml" + hint);
        var ts = File.ReadAllText(ConfigurationTests.RepoFile("docs", WireDocsCommand.TypeScriptFile));
        Assert.True(ts == WireDocuments.TypeScript(), "docs/wire-types.d.ts" + hint);
    }

    [Fact]
    public async Task TheOpenApiDocumentListsEveryHttpEndpoint()
    {
        var doc = await Node.Http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        var endpoints = Node.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>() is not null)
            .Select(e => "/" + string.Join('/', e.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
            {
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter => "{" + parameter.Name + "}", // constraints are not in OpenAPI paths
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternSeparatorPart separator => separator.Content,
                _ => "",
            })))))
            .Where(p => !p.StartsWith("/hubs/", StringComparison.Ordinal) && !p.StartsWith("/openapi/", StringComparison.Ordinal) && !p.StartsWith("/scalar", StringComparison.Ordinal))
            .Distinct().ToList();
        Assert.Contains("/api/webhooks/resource-updated", endpoints);
        Assert.Contains("/ready", endpoints);
        Assert.All(endpoints, e => Assert.Contains(e, paths));
        Assert.True(doc.GetProperty("paths").GetProperty("/api/webhooks/resource-updated").GetProperty("post").GetProperty("responses").TryGetProperty("429", out _));
    }

    [Fact]
    public async Task TheInteractiveApiPageIsServedInTheEmbeddedProfileOnly()
    {
        using var embedded = await Node.Http.GetAsync("/scalar");
        Assert.Equal(HttpStatusCode.OK, embedded.StatusCode);

        using var rsa = RSA.Create(2048);
        await using var production = await CollabTestNode.StartAsync(new CollabTestNodeOptions
        {
            Settings = { ["Collab:Profile"] = "production", ["Auth:PublicKeyPem"] = rsa.ExportSubjectPublicKeyInfoPem() },
        });
        using var page = await production.Http.GetAsync("/scalar");
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        using var openApi = await production.Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, openApi.StatusCode);
    }
}
