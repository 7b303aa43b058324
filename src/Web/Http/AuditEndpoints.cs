using System.Buffers;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CollabAkka.Web.Http;

/// <summary>Audit query API settings (<c>Collab:AuditApi</c>).</summary>
public sealed class AuditApiOptions
{
    public const int DefaultPageSize = 100;

    /// <summary>Roles that may read the audit trail (the <c>auditor</c> policy).</summary>
    public string[] AuditorRoles { get; set; } = ["auditor", "admin"];

    /// <summary>Largest <c>limit</c> of one JSON page.</summary>
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>Rows read from the store per round trip while streaming an export; bounds the export's memory.</summary>
    public int ExportPageSize { get; set; } = 2000;
}

/// <summary>
/// <c>GET /api/audit</c> for auditors. Filters: <c>userId</c>, <c>resourceId</c>, <c>eventType</c>,
/// <c>correlationId</c>, <c>from</c> (inclusive) and <c>to</c> (exclusive) as ISO 8601. JSON pages are keyset
/// paged: pass the <c>nextCursor</c> of one page as <c>cursor</c> to get the next. <c>format=ndjson</c> and
/// <c>format=csv</c> stream every matching row (or <c>limit</c> rows) page by page, so an export of millions of
/// rows runs in constant memory; a store failure mid-export aborts the response instead of ending it short.
/// Every access is itself audited (<c>AUDIT_QUERIED</c>, <c>AUDIT_EXPORTED</c>).
/// </summary>
public static class AuditEndpoints
{
    public const string AuditorPolicy = "auditor";
    public const string Path = "/api/audit";

    /// <summary>Set on a request whose access the endpoint audited itself (the HTTP audit middleware then skips it).</summary>
    internal const string AuditedItem = "collab.audited";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private static readonly string[] CsvColumns =
        ["id", "timestamp", "eventType", "userId", "username", "role", "resourceId", "sessionId", "nodeId", "ip", "userAgent", "correlationId", "details"];

    /// <summary>Registers the <see cref="AuditorPolicy"/> and <see cref="AuditApiOptions"/>.</summary>
    public static IServiceCollection AddCollabAuditApi(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Collab:AuditApi").Get<AuditApiOptions>() ?? new AuditApiOptions();
        if (options.AuditorRoles.Length == 0 || options.MaxPageSize < 1 || options.ExportPageSize < 1)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Collab:AuditApi", typeof(AuditApiOptions),
                ["Collab:AuditApi: AuditorRoles must name at least one role; MaxPageSize and ExportPageSize must be at least 1."]);
        }
        services.AddSingleton(options);
        return services.AddAuthorizationBuilder()
            .AddPolicy(AuditorPolicy, p => p.RequireAuthenticatedUser().RequireClaim("role", options.AuditorRoles))
            .Services;
    }

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, QueryAsync).RequireAuthorization(AuditorPolicy);
        return app;
    }

    private static async Task QueryAsync(HttpContext http, IAuditStore store, IAuditSink audit, AuditApiOptions options,
        NodeIdentity node, [FromKeyedServices(CollabTime.Key)] TimeProvider time)
    {
        var q = http.Request.Query;
        var format = (q["format"].ToString() is { Length: > 0 } f ? f : "json").ToLowerInvariant();
        var errors = new List<string>();
        string? Text(string name)
        {
            var value = q[name].ToString();
            if (value.Length > 256)
            {
                errors.Add($"{name} is longer than 256 characters");
            }
            return value.Length == 0 ? null : value;
        }
        DateTimeOffset? Time(string name)
        {
            var value = q[name].ToString();
            if (value.Length == 0)
            {
                return null;
            }
            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            {
                return t;
            }
            errors.Add($"{name} must be an ISO 8601 time, e.g. 2025-03-01T08:00:00Z");
            return null;
        }
        long? Number(string name, long min, long max)
        {
            var value = q[name].ToString();
            if (value.Length == 0)
            {
                return null;
            }
            if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            {
                return n;
            }
            errors.Add($"{name} must be a whole number from {min} to {max}");
            return null;
        }
        var export = format is "ndjson" or "csv";
        var filter = new AuditQuery
        {
            UserId = Text("userId"),
            ResourceId = Text("resourceId"),
            EventType = Text("eventType"),
            CorrelationId = Text("correlationId"),
            From = Time("from"),
            To = Time("to"),
            AfterId = Number("cursor", 0, long.MaxValue),
        };
        var limit = Number("limit", 1, export ? long.MaxValue : options.MaxPageSize);
        if (format is not ("json" or "ndjson" or "csv"))
        {
            errors.Add("format must be json, ndjson or csv");
        }
        if (errors.Count > 0)
        {
            await Problems.WriteAsync(http, StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, string.Join("; ", errors) + ".").ConfigureAwait(false);
            return;
        }

        // The access itself goes on the trail before any row is read.
        http.Items[AuditedItem] = true;
        audit.Record(HttpAudit.Create(http, export ? AuditEventTypes.AuditExported : AuditEventTypes.AuditQueried, null, new Dictionary<string, object?>
        {
            ["format"] = format,
            ["userId"] = filter.UserId,
            ["resourceId"] = filter.ResourceId,
            ["eventType"] = filter.EventType,
            ["correlationId"] = filter.CorrelationId,
            ["from"] = filter.From?.ToString("O", CultureInfo.InvariantCulture),
            ["to"] = filter.To?.ToString("O", CultureInfo.InvariantCulture),
            ["cursor"] = filter.AfterId,
            ["limit"] = limit,
        }));

        if (!export)
        {
            IReadOnlyList<StoredAuditEvent> page;
            try
            {
                page = await store.QueryAsync(filter with { Limit = (int)(limit ?? AuditApiOptions.DefaultPageSize) }, http.RequestAborted).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                await Problems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, $"The audit store cannot be read: {ex.Message}").ConfigureAwait(false);
                return;
            }
            var full = page.Count == (limit ?? AuditApiOptions.DefaultPageSize);
            await http.Response.WriteAsJsonAsync(new
            {
                items = page.Select(Shape),
                count = page.Count,
                nextCursor = full && page.Count > 0 ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null,
            }, Json, http.RequestAborted).ConfigureAwait(false);
            return;
        }

        await ExportAsync(http, store, options, filter, limit, csv: format == "csv").ConfigureAwait(false);
    }

    private static async Task ExportAsync(HttpContext http, IAuditStore store, AuditApiOptions options, AuditQuery filter, long? limit, bool csv)
    {
        var response = http.Response;
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        response.ContentType = csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
        response.Headers.ContentDisposition = $"attachment; filename=\"audit-{stamp}.{(csv ? "csv" : "ndjson")}\"";
        var buffer = new ArrayBufferWriter<byte>(256 * 1024);
        using var jsonWriter = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false });
        var text = new StringBuilder(1024);
        if (csv)
        {
            buffer.Write(Utf8Bom); // spreadsheets read the file as UTF-8
            buffer.Write(Encoding.UTF8.GetBytes(string.Join(',', CsvColumns) + "\r\n"));
        }
        var remaining = limit ?? long.MaxValue;
        var query = filter;
        try
        {
            while (remaining > 0)
            {
                var page = await store.QueryAsync(query with { Limit = (int)Math.Min(options.ExportPageSize, remaining) }, http.RequestAborted)
                    .ConfigureAwait(false);
                foreach (var row in page)
                {
                    if (csv)
                    {
                        AppendCsv(text, row);
                        var bytes = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
                        buffer.Advance(Encoding.UTF8.GetBytes(text.ToString(), bytes));
                        text.Clear();
                    }
                    else
                    {
                        jsonWriter.Reset(buffer);
                        JsonSerializer.Serialize(jsonWriter, Shape(row), Json);
                        jsonWriter.Flush();
                        buffer.Write("\n"u8);
                    }
                    if (buffer.WrittenCount >= 128 * 1024)
                    {
                        await response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted).ConfigureAwait(false);
                        buffer.ResetWrittenCount();
                    }
                }
                remaining -= page.Count;
                if (page.Count < options.ExportPageSize || page.Count == 0)
                {
                    break;
                }
                query = query with { AfterId = page[^1].Id };
            }
            await response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            if (!response.HasStarted)
            {
                await Problems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, $"The audit store cannot be read: {ex.Message}").ConfigureAwait(false);
                return;
            }
            // Rows were sent already: cut the connection so the client sees a failed transfer, not a short file.
            http.Abort();
        }
    }

    private static object Shape(StoredAuditEvent row)
    {
        var e = row.Event;
        return new
        {
            id = row.Id,
            timestamp = Timestamp(e.Timestamp),
            eventType = e.EventType,
            userId = e.UserId,
            username = e.Username,
            role = e.Role,
            resourceId = e.ResourceId,
            sessionId = e.SessionId,
            nodeId = e.NodeId,
            ip = e.Ip,
            userAgent = e.UserAgent,
            correlationId = e.CorrelationId,
            details = e.Details,
        };
    }

    private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>One RFC 4180 record: CRLF line end, fields quoted when they hold a comma, quote or line break.</summary>
    internal static void AppendCsv(StringBuilder line, StoredAuditEvent row)
    {
        var e = row.Event;
        string?[] fields =
        [
            row.Id.ToString(CultureInfo.InvariantCulture), Timestamp(e.Timestamp), e.EventType, e.UserId, e.Username, e.Role,
            e.ResourceId, e.SessionId, e.NodeId, e.Ip, e.UserAgent, e.CorrelationId,
            e.Details is null ? null : JsonSerializer.Serialize(e.Details, Json),
        ];
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }
            AppendCsvField(line, fields[i], neutralize: i > 1);
        }
        line.Append("\r\n");
    }

    private static void AppendCsvField(StringBuilder line, string? value, bool neutralize)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        // A cell starting with = + - @ (or a tab/CR) would run as a formula in a spreadsheet: keep it text.
        var guard = neutralize && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        var quote = guard || value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == ' ' || value[^1] == ' ';
        if (!quote)
        {
            line.Append(value);
            return;
        }
        line.Append('"');
        if (guard)
        {
            line.Append('\'');
        }
        line.Append(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        line.Append('"');
    }
}
