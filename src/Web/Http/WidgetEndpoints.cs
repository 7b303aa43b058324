using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CollabAkka.Messages;
using CollabAkka.Web.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace CollabAkka.Web.Http;

/// <summary>
/// The browser widget as the node serves it:
/// <c>/collab-sdk.js</c> (gzip when accepted, strong ETag, short cache; immutable when requested as
/// <c>?v=&lt;etag&gt;</c>; CORS-readable so pages on other origins can use <c>integrity</c>), its code-split chunks
/// <c>/collab-sdk.&lt;name&gt;.js</c> (loaded by the bundle on demand, same treatment; the bundle carries their
/// versions and SRI hashes), <c>/collab-sdk.js.sri</c> and <c>/api/widget</c> (the SRI hash, a ready script tag
/// and the chunks), and <c>/demo</c>, a plain "existing healthcare app" page that becomes collaborative through
/// the two-line integration (dev tokens only).
/// The files are built by <c>node src/Widget/build.mjs</c> into <c>src/Widget/dist</c>; the node finds
/// them through <c>Collab:WidgetDir</c>, else in that folder of the repository it runs from, else in
/// <c>wwwroot</c> beside its binaries (where the Node project copies them), and re-reads a file when it changes.
/// </summary>
public static class WidgetEndpoints
{
    public const string BundlePath = "/collab-sdk.js";
    public const string BundleFileName = "collab-sdk.js";

    /// <summary>Chunk names as the build writes them: <c>collab-sdk.&lt;name&gt;.js</c>.</summary>
    private const string ChunkRoute = "/collab-sdk.{chunk:regex(^[a-z0-9-]{{1,32}}$)}.js";

    public static IEndpointRouteBuilder MapWidget(this IEndpointRouteBuilder app, bool devTokens)
    {
        var configured = app.ServiceProvider.GetService<IConfiguration>()?["Collab:WidgetDir"];
        var files = new WidgetFiles(configured);

        app.MapMethods(BundlePath, [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => files.Serve(http, BundleFileName));
        app.MapMethods(ChunkRoute, [HttpMethods.Get, HttpMethods.Head], (HttpContext http, string chunk) =>
            files.Serve(http, $"collab-sdk.{chunk}.js"));
        app.MapGet(BundlePath + ".sri", (HttpContext http) => files.Current(BundleFileName) is { } b
            ? Results.Text(b.Integrity, "text/plain")
            : files.Missing(http, BundleFileName));
        app.MapGet("/api/widget", (HttpContext http) =>
        {
            if (files.Current(BundleFileName) is not { } b)
            {
                return files.Missing(http, BundleFileName);
            }
            var url = $"{BundlePath}?v={b.Version}";
            return Results.Json(new
            {
                url,
                integrity = b.Integrity,
                bytes = b.Js.Length,
                gzipBytes = b.Gzip.Length,
                etag = b.ETag,
                lastModified = b.LastModified,
                scriptTag = $"<script src=\"{url}\" integrity=\"{b.Integrity}\" crossorigin=\"anonymous\"></script>",
                chunks = files.Chunks().ToDictionary(
                    c => c.Name,
                    c => new { url = $"/{c.Snapshot.FileName}?v={c.Snapshot.Version}", integrity = c.Snapshot.Integrity, bytes = c.Snapshot.Js.Length, gzipBytes = c.Snapshot.Gzip.Length, etag = c.Snapshot.ETag }),
            });
        });

        app.MapGet("/demo", (HttpContext http) => devTokens && http.RequestServices.GetService<DevTokenIssuer>() is { } issuer
            ? DemoPage.Render(http, issuer)
            : Problems.Result(http, StatusCodes.Status404NotFound, ErrorCodes.NotFound,
                "The demo needs dev tokens (Auth:DevTokens=true, the default of the embedded profile)."));
        return app;
    }
}

/// <summary>One immutable snapshot of a widget file: bytes, gzip, hashes.</summary>
internal sealed record WidgetBundleSnapshot(
    string Path, string FileName, DateTime WriteTimeUtc, long Length, byte[] Js, byte[] Gzip, string ETag, string Version, string Integrity, DateTimeOffset LastModified);

/// <summary>Finds, loads and serves the widget's files; a new build is picked up on the next request.</summary>
internal sealed class WidgetFiles(string? configuredDir)
{
    private const string ShortCache = "public, max-age=300";
    private const string Immutable = "public, max-age=31536000, immutable";
    private readonly ConcurrentDictionary<string, WidgetBundleSnapshot> _current = new(StringComparer.Ordinal);

    public WidgetBundleSnapshot? Current(string fileName)
    {
        var path = Locate(fileName);
        if (path is null)
        {
            return null;
        }
        var info = new FileInfo(path);
        _current.TryGetValue(fileName, out var snapshot);
        if (snapshot is not null && snapshot.Path == path && snapshot.WriteTimeUtc == info.LastWriteTimeUtc && snapshot.Length == info.Length)
        {
            return snapshot;
        }
        byte[] js;
        try
        {
            js = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return snapshot; // being rewritten by a build: keep serving the previous one
        }
        var sha256 = SHA256.HashData(js);
        var version = Convert.ToHexStringLower(sha256)[..16];
        snapshot = new WidgetBundleSnapshot(path, fileName, info.LastWriteTimeUtc, info.Length, js, Gzip(path, js), $"\"{version}\"", version,
            "sha384-" + Convert.ToBase64String(SHA384.HashData(js)), new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
        _current[fileName] = snapshot;
        return snapshot;
    }

    /// <summary>
    /// The gzip to serve: the build's own <c>.gz</c> beside the file when it holds exactly these bytes (zlib at
    /// level 9 compresses JavaScript a little better than <see cref="CompressionLevel.SmallestSize"/> here),
    /// else made now.
    /// </summary>
    private static byte[] Gzip(string path, byte[] js)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(js);
        }
        var made = buffer.ToArray();
        try
        {
            if (File.Exists(path + ".gz"))
            {
                var built = File.ReadAllBytes(path + ".gz");
                using var unzip = new GZipStream(new MemoryStream(built), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                unzip.CopyTo(plain);
                if (built.Length < made.Length && plain.GetBuffer().AsSpan(0, (int)plain.Length).SequenceEqual(js))
                {
                    return built;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // a stale, partial or unreadable .gz: ours will do
        }
        return made;
    }

    /// <summary>The chunks beside the bundle (<c>collab-sdk.&lt;name&gt;.js</c>).</summary>
    public IEnumerable<(string Name, WidgetBundleSnapshot Snapshot)> Chunks()
    {
        var bundle = Locate(WidgetEndpoints.BundleFileName);
        if (bundle is null || Path.GetDirectoryName(bundle) is not { } dir)
        {
            yield break;
        }
        foreach (var path in Directory.EnumerateFiles(dir, "collab-sdk.*.js").Order(StringComparer.Ordinal))
        {
            var fileName = Path.GetFileName(path);
            var name = fileName["collab-sdk.".Length..^".js".Length];
            if (name.Length is > 0 and <= 32 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') &&
                Current(fileName) is { } snapshot)
            {
                yield return (name, snapshot);
            }
        }
    }

    public IResult Serve(HttpContext http, string fileName)
    {
        if (Current(fileName) is not { } b)
        {
            return Missing(http, fileName);
        }
        var headers = http.Response.Headers;
        headers.ETag = b.ETag;
        headers.CacheControl = http.Request.Query["v"] == b.Version ? Immutable : ShortCache;
        headers.Vary = HeaderNames.AcceptEncoding;
        headers.AccessControlAllowOrigin = "*";
        headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        headers.XContentTypeOptions = "nosniff";
        headers["X-Content-Integrity"] = b.Integrity;
        headers.LastModified = b.LastModified.ToString("R", CultureInfo.InvariantCulture);
        if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && (v.Contains(b.ETag, StringComparison.Ordinal) || v == "*")))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        var gzip = http.Request.Headers.AcceptEncoding.Any(v => v is not null && v.Contains("gzip", StringComparison.OrdinalIgnoreCase));
        if (gzip)
        {
            headers.ContentEncoding = "gzip";
        }
        return Results.Bytes(gzip ? b.Gzip : b.Js, "text/javascript; charset=utf-8");
    }

    public IResult Missing(HttpContext http, string fileName) =>
        Problems.Result(http, StatusCodes.Status404NotFound, ErrorCodes.NotFound,
            fileName == WidgetEndpoints.BundleFileName
                ? "The widget bundle has not been built: run `node src/Widget/build.mjs` (or set Collab:WidgetDir to the folder holding collab-sdk.js)."
                : $"The widget has no file {fileName} (rebuilt meanwhile? reload the page).",
            new { searched = Candidates().ToList() });

    private string? Locate(string fileName) => Candidates().Select(d => Path.Combine(d, fileName)).FirstOrDefault(File.Exists);

    private IEnumerable<string> Candidates()
    {
        if (!string.IsNullOrWhiteSpace(configuredDir))
        {
            yield return Path.GetFullPath(configuredDir);
        }
        // Running from a build output inside the repository: the freshest bundle is the repository's.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Widget", "dist");
            if (Directory.Exists(candidate))
            {
                yield return candidate;
                break;
            }
        }
        yield return Path.Combine(AppContext.BaseDirectory, "wwwroot");
    }
}

/// <summary>The demo: an ordinary patient record page plus the two lines of the integration.</summary>
internal static class DemoPage
{
    private sealed record DemoUser(string Id, string Name, string Role);

    private static readonly DemoUser[] Users =
    [
        new("dr-smith", "Dr. Sarah Smith", "doctor"),
        new("nurse-jones", "Nurse Tom Jones", "nurse"),
        new("dr-patel", "Dr. Priya Patel", "doctor"),
        new("admin", "Alex Morgan", "admin"),
        new("student", "Sam Lee", "viewer"),
    ];

    private static readonly string[] Tabs = ["demographics", "diagnosis", "medication", "notes"];

    private static readonly JsonSerializerOptions Js = new();

    public static IResult Render(HttpContext http, DevTokenIssuer issuer)
    {
        var q = http.Request.Query;
        var userId = Clean(q["user"], "dr-smith");
        var known = Users.FirstOrDefault(u => u.Id == userId);
        var role = Clean(q["role"], known?.Role ?? "doctor");
        var name = known?.Name ?? userId;
        var tab = Tabs.Contains(q["tab"].ToString()) ? q["tab"].ToString() : Tabs[0];
        var patient = Clean(q["patient"], "1042");
        var (token, _) = issuer.Issue(userId, name, role);
        var resourceId = $"document:{patient}/tab:{tab}";

        string Link(string t, string? u = null, string? r = null) =>
            $"/demo?user={Uri.EscapeDataString(u ?? userId)}&role={Uri.EscapeDataString(r ?? role)}&patient={Uri.EscapeDataString(patient)}&tab={t}";
        static string H(string s) => WebUtility.HtmlEncode(s);

        var html = new StringBuilder(8192);
        html.Append("""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Riverside General · Patient record</title>
<link rel="icon" href="data:,">
<style>
  body{margin:0;font:14px/1.45 Georgia,"Times New Roman",serif;background:#eef2f5;color:#1f2933}
  .top{background:#1e3a5f;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:16px}
  .top h1{font-size:18px;margin:0;font-weight:normal;letter-spacing:.5px}
  .top .who{margin-left:auto;font-size:13px;opacity:.9}
  .banner{background:#fff;border-bottom:1px solid #cbd2d9;padding:12px 24px;display:flex;gap:32px}
  .banner b{display:block;font-size:16px}
  .banner span{color:#52606d;font-size:12px}
  nav{display:flex;gap:2px;padding:0 24px;margin-top:16px}
  nav a{padding:8px 16px;background:#d9e2ec;color:#334e68;text-decoration:none;border-radius:6px 6px 0 0}
  nav a.active{background:#fff;color:#102a43;font-weight:bold}
  main{background:#fff;margin:0 24px 24px;padding:20px 24px;border-radius:0 6px 6px 6px;max-width:760px}
  fieldset{border:1px solid #d9e2ec;border-radius:6px;margin:0 0 16px;padding:12px 16px}
  legend{color:#486581;padding:0 6px}
  label{display:block;margin:8px 0 2px;color:#334e68;font-size:13px}
  input,textarea{width:100%;box-sizing:border-box;padding:7px 9px;border:1px solid #9fb3c8;border-radius:4px;font:inherit;background:#fff}
  textarea{min-height:90px;resize:vertical}
  .grid{display:grid;grid-template-columns:1fr 1fr;gap:0 16px}
  .hint{color:#829ab1;font-size:12px}
  button{font:inherit;padding:6px 12px;border-radius:4px;border:1px solid #627d98;background:#f0f4f8;cursor:pointer}
  .others{margin:0 24px 32px;font-size:12px;color:#52606d}
  .others a{color:#2680c2}
</style>
</head>
<body>
""");
        html.Append("<div class=\"top\"><h1>Riverside General Hospital · EMR</h1><div class=\"who\">Signed in as <b id=\"signed-in\">")
            .Append(H(name)).Append("</b> (").Append(H(role)).Append(")</div></div>\n");
        html.Append("<div class=\"banner\"><div><b>Eleanor Whitfield</b><span>Patient #").Append(H(patient))
            .Append(" · DOB 1956-03-14 · Female</span></div><div><b>Ward 4B, bed 12</b><span>Admitted 2026-11-18 · Attending: Dr. Sarah Smith</span></div></div>\n");
        html.Append("<nav>");
        foreach (var t in Tabs)
        {
            html.Append("<a href=\"").Append(H(Link(t))).Append('"').Append(t == tab ? " class=\"active\"" : "").Append('>')
                .Append(char.ToUpperInvariant(t[0])).Append(t[1..]).Append("</a>");
        }
        html.Append("</nav>\n<main>\n<form id=\"record\" autocomplete=\"off\" onsubmit=\"return false\">\n<input type=\"hidden\" name=\"csrf\" value=\"demo-")
            .Append(H(patient)).Append("\">\n");
        html.Append(tab switch
        {
            "demographics" => """
<fieldset><legend>Identity</legend><div class="grid">
  <div><label for="first-name">First name</label><input id="first-name" value="Eleanor"></div>
  <div><label for="last-name">Last name</label><input id="last-name" value="Whitfield"></div>
  <div><label>Phone</label><input type="tel" name="phone" value="+44 20 7946 0958"></div>
  <div><label>E-mail</label><input type="email" name="email" value="e.whitfield@example.org"></div>
</div>
<label>Insurance number</label><input placeholder="Insurance number">
<label>Home address</label><textarea name="address">14 Mill Lane, Riverside</textarea>
</fieldset>
<fieldset><legend>Sign-off</legend>
  <label for="pin">Signing PIN <span class="hint">(never shared)</span></label><input type="password" id="pin" value="">
</fieldset>
""",
            "diagnosis" => """
<fieldset><legend>Assessment</legend>
  <label for="chief-complaint">Chief complaint</label><input id="chief-complaint">
  <div class="grid">
    <div><label for="primary-diagnosis">Primary diagnosis</label><input id="primary-diagnosis"></div>
    <div><label>ICD-10 code</label><input name="icd10"></div>
  </div>
  <label for="findings">Clinical findings</label><textarea id="findings"></textarea>
</fieldset>
<fieldset><legend>Administration</legend>
  <label>Billing reference <span class="hint">(local only)</span></label><input name="billing-ref" data-collab="off">
</fieldset>
""",
            "medication" => """
<fieldset><legend>Current medication</legend>
  <label for="medications">Medication list</label><textarea id="medications"></textarea>
  <label for="dosage-notes">Dosage notes</label><input id="dosage-notes">
</fieldset>
<fieldset id="allergies"><legend>Allergies</legend>
  <label>Allergy 1</label><input name="allergy-1">
  <p><button type="button" id="add-allergy">Add allergy</button></p>
</fieldset>
<script>
  // The app's own behaviour: rows are added on demand (the widget picks them up by itself).
  document.getElementById('add-allergy').addEventListener('click', function () {
    var set = document.getElementById('allergies');
    var n = set.querySelectorAll('input').length + 1;
    var label = document.createElement('label'); label.textContent = 'Allergy ' + n;
    var input = document.createElement('input'); input.name = 'allergy-' + n;
    set.insertBefore(label, this.parentNode); set.insertBefore(input, this.parentNode);
  });
</script>
""",
            _ => """
<fieldset><legend>Progress notes</legend>
  <label for="progress-notes">Progress notes</label><textarea id="progress-notes"></textarea>
  <label for="follow-up">Follow-up plan</label><textarea id="follow-up"></textarea>
</fieldset>
""",
        });
        html.Append("</form>\n</main>\n<div class=\"others\">Open this record as: ");
        foreach (var u in Users.Where(u => u.Id != userId))
        {
            html.Append("<a target=\"_blank\" href=\"").Append(H(Link(tab, u.Id, u.Role))).Append("\">").Append(H(u.Name))
                .Append(" (").Append(H(u.Role)).Append(")</a> · ");
        }
        html.Append("<span class=\"hint\">demo users; dev tokens</span></div>\n");

        // The whole integration: two lines.
        html.Append("<script src=\"").Append(WidgetEndpoints.BundlePath).Append("\"></script>\n");
        html.Append("<script>CollabSDK.init({ gatewayUrl: location.origin, token: ")
            .Append(JsonSerializer.Serialize(token, Js)).Append(", resourceId: ").Append(JsonSerializer.Serialize(resourceId, Js))
            .Append(" })</script>\n</body>\n</html>\n");

        http.Response.Headers.CacheControl = "no-store";
        return Results.Content(html.ToString(), "text/html; charset=utf-8");
    }

    private static string Clean(string? value, string fallback) =>
        !string.IsNullOrEmpty(value) && value.Length <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? value
            : fallback;
}
