// Webhook latency benchmark (issue 13, section 2): POST /api/webhooks/resource-updated -> resource:updated at every
// joined client. The node runs as its own process (SQLite, default settings except the per-source rate, raised so the
// benchmark is not throttled); N clients join one family (half the root, half its children); each delivery targets the
// root, so every client receives it. Latency of one delivery = time from sending the POST to the moment the LAST client
// has the event (so p99 is over the slowest recipient). Deliveries are sent one at a time at a fixed pace.
//
//   dotnet run -c Release --project bench/Webhook.Bench [-- --deliveries N --clients N --rate N --warmup N]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CollabAkka.TestKit;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

var deliveries = Arg("--deliveries", 1000);
var clients = Arg("--clients", 50);
var rate = Arg("--rate", 20);
var warmup = Arg("--warmup", 50);
const string Secret = "bench-secret-0123456789abcdef";

var dataDir = Directory.CreateTempSubdirectory("collab-webhook-bench-").FullName;
await using var node = await CollabNodeProcess.StartAsync(dataDir, null,
    "--Collab:Webhooks:Sources:BENCH:Secrets:0=" + Secret,
    "--Collab:Webhooks:RequestsPerMinute=1000000",
    "--Collab:Connections:MaxConnectionsPerUser=1000");
Console.WriteLine($"Webhook.Bench: deliveries={deliveries} (+{warmup} warm-up) clients={clients} rate={rate}/s node=own process cores={Environment.ProcessorCount} .NET {Environment.Version} {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z");

var root = $"document:bench-{Guid.NewGuid():N}";
var joined = new List<CollabTestClient>();
for (var i = 0; i < clients; i++)
{
    var client = await node.ConnectAsync($"bench-user{i}");
    var resource = i % 2 == 0 ? root : $"{root}/section:s{i}";
    var answer = await client.JoinAsync(resource, "viewer");
    if (!answer.Success)
    {
        throw new InvalidOperationException($"join failed: {answer.Error?.Code} {answer.Error?.Message}");
    }
    joined.Add(client);
}

using var http = new HttpClient { BaseAddress = node.BaseUrl };
var latencies = new List<double>();
var pace = TimeSpan.FromSeconds(1.0 / rate);
var started = Stopwatch.StartNew();
for (var k = 0; k < warmup + deliveries; k++)
{
    var deliveryId = $"d{k}";
    var body = JsonSerializer.SerializeToUtf8Bytes(new
    {
        resourceType = "document", resourceId = root, action = "updated", data = new { k }, timestamp = DateTimeOffset.UtcNow,
        source = "BENCH", deliveryId,
    });
    var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    var message = Encoding.UTF8.GetBytes(ts + ".").Concat(body).ToArray();
    var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), message));
    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/webhooks/resource-updated") { Content = new ByteArrayContent(body) };
    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    request.Headers.Add("X-Source", "BENCH");
    request.Headers.Add("X-Timestamp", ts);
    request.Headers.Add("X-Signature", signature);

    var waits = joined.Select(c => c.WaitForAsync("resource:updated",
        e => e.GetProperty("payload").GetProperty("deliveryId").GetString() == deliveryId, TimeSpan.FromSeconds(30))).ToList();
    var watch = Stopwatch.StartNew();
    using var response = await http.SendAsync(request);
    response.EnsureSuccessStatusCode();
    await Task.WhenAll(waits);
    watch.Stop();
    if (k >= warmup)
    {
        latencies.Add(watch.Elapsed.TotalMilliseconds);
    }
    var due = pace * (k + 1) - started.Elapsed;
    if (due > TimeSpan.Zero)
    {
        await Task.Delay(due); // pacing between deliveries, not synchronization
    }
}

latencies.Sort();
double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
Console.WriteLine($"POST -> resource:updated at all {clients} clients, {latencies.Count} deliveries: " +
                  $"p50 {P(0.50):F2} ms  p95 {P(0.95):F2} ms  p99 {P(0.99):F2} ms  max {latencies[^1]:F2} ms");
foreach (var c in joined)
{
    await c.DisposeAsync();
}
await node.StopAsync();
Directory.Delete(dataDir, recursive: true);
return 0;
