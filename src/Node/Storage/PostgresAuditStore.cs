using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CollabAkka.Entities.Audit;
using Npgsql;
using NpgsqlTypes;

namespace CollabAkka.Node.Storage;

/// <summary>
/// Audit trail in PostgreSQL. A batch is one statement (<c>INSERT … SELECT FROM unnest(arrays)</c>), so it is
/// atomic and costs one round trip whatever its size. Same semantics as <see cref="SqliteAuditStore"/>:
/// timestamps kept to the millisecond, details as JSON, keyset paging by id.
/// </summary>
public sealed class PostgresAuditStore(PostgresDatabase database) : IAuditStore
{
    private const string Columns = "id, ts, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details::text";

    public Task AppendAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return Task.CompletedTask;
        }
        return database.RunAsync(PostgresCircuits.Audit, async connection =>
        {
            await using var insert = new NpgsqlCommand($"{InsertColumns} SELECT * FROM {Unnest}", connection);
            AddArrays(insert, events);
            return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>The INSERT of <see cref="AddArrays"/>'s rows, to be followed by a SELECT of them (from <see cref="Unnest"/>).</summary>
    internal const string InsertColumns =
        "INSERT INTO audit_events (ts, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details)";

    /// <summary>The rows bound by <see cref="AddArrays"/>, in the column order of <see cref="InsertColumns"/>.</summary>
    internal const string Unnest =
        "unnest(@a_ts, @a_type, @a_user, @a_username, @a_role, @a_resource, @a_session, @a_node, @a_ip, @a_ua, @a_correlation, @a_details)";

    /// <summary>
    /// Binds events as column arrays (<c>@a_…</c>), so a batch is one statement and one round trip whatever its size.
    /// The document store writes EDIT records inside its update statement this way.
    /// </summary>
    internal static void AddArrays(NpgsqlCommand command, IReadOnlyList<AuditEvent> events)
    {
        var n = events.Count;
        var ts = new DateTimeOffset[n];
        var text = new string?[11][];
        for (var c = 0; c < text.Length; c++)
        {
            text[c] = new string?[n];
        }
        for (var i = 0; i < n; i++)
        {
            var e = events[i];
            ts[i] = Millis(e.Timestamp);
            text[0][i] = Clean(e.EventType);
            text[1][i] = Clean(e.UserId);
            text[2][i] = Clean(e.Username);
            text[3][i] = Clean(e.Role);
            text[4][i] = Clean(e.ResourceId);
            text[5][i] = Clean(e.SessionId);
            text[6][i] = Clean(e.NodeId);
            text[7][i] = Clean(e.Ip);
            text[8][i] = Clean(e.UserAgent);
            text[9][i] = Clean(e.CorrelationId);
            text[10][i] = e.Details is null ? null : DetailsJson(e.Details);
        }
        command.Parameters.Add(new NpgsqlParameter("a_ts", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = ts });
        string[] names = ["type", "user", "username", "role", "resource", "session", "node", "ip", "ua", "correlation"];
        for (var c = 0; c < names.Length; c++)
        {
            command.Parameters.Add(new NpgsqlParameter("a_" + names[c], NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = text[c] });
        }
        command.Parameters.Add(new NpgsqlParameter("a_details", NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = text[10] });
    }

    public Task<IReadOnlyList<StoredAuditEvent>> QueryAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return database.RunAsync<IReadOnlyList<StoredAuditEvent>>(PostgresCircuits.Audit, async connection =>
        {
            await using var select = new NpgsqlCommand { Connection = connection };
            var sql = new StringBuilder($"SELECT {Columns} FROM audit_events WHERE true");
            void Filter<T>(string condition, string name, T? value, NpgsqlDbType type)
            {
                if (value is not null)
                {
                    sql.Append(" AND ").Append(condition);
                    select.Parameters.Add(new NpgsqlParameter(name, type) { Value = value });
                }
            }
            Filter("user_id = @user", "user", query.UserId, NpgsqlDbType.Text);
            Filter("resource_id = @resource", "resource", query.ResourceId, NpgsqlDbType.Text);
            Filter("event_type = @type", "type", query.EventType, NpgsqlDbType.Text);
            Filter("correlation_id = @correlation", "correlation", query.CorrelationId, NpgsqlDbType.Text);
            Filter("ts >= @from", "from", query.From is { } from ? Millis(from) : (DateTimeOffset?)null, NpgsqlDbType.TimestampTz);
            Filter("ts < @to", "to", query.To is { } to ? Millis(to) : (DateTimeOffset?)null, NpgsqlDbType.TimestampTz);
            Filter("id > @after", "after", query.AfterId, NpgsqlDbType.Bigint);
            if (query.From is not null && query.AfterId is null)
            {
                // Implied by the time filter (every row in range has an id at least this); lets the first page's
                // id-ordered scan start where the range starts instead of at the oldest row. Later pages start
                // at their cursor, which is past it.
                sql.Append(" AND id >= COALESCE((SELECT min(id) FROM audit_events WHERE ts >= @from), 9223372036854775807)");
            }
            sql.Append(" ORDER BY id LIMIT @limit");
            select.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Integer) { Value = query.Limit });
            select.CommandText = sql.ToString();
            var result = new List<StoredAuditEvent>(Math.Min(query.Limit, 10_000));
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                string? S(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                var details = S(12) is { } json ? JsonSerializer.Deserialize<Dictionary<string, object?>>(json, SqliteAuditStore.DetailsJson) : null;
                result.Add(new StoredAuditEvent(reader.GetInt64(0), new AuditEvent
                {
                    Timestamp = reader.GetFieldValue<DateTimeOffset>(1),
                    EventType = reader.GetString(2),
                    UserId = S(3), Username = S(4), Role = S(5), ResourceId = S(6), SessionId = S(7), NodeId = S(8),
                    Ip = S(9), UserAgent = S(10), CorrelationId = S(11), Details = details,
                }));
            }
            return result;
        }, cancellationToken);
    }

    public Task<int> PurgeAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken) =>
        database.RunAsync(PostgresCircuits.Audit, async connection =>
        {
            // SKIP LOCKED: two nodes purging at once take different rows instead of waiting on each other.
            await using var delete = new NpgsqlCommand("""
                DELETE FROM audit_events WHERE id IN (
                    SELECT id FROM audit_events WHERE ts < @cutoff ORDER BY id LIMIT @n FOR UPDATE SKIP LOCKED)
                """, connection);
            delete.Parameters.Add(new NpgsqlParameter("cutoff", NpgsqlDbType.TimestampTz) { Value = Millis(olderThan) });
            delete.Parameters.Add(new NpgsqlParameter("n", NpgsqlDbType.Integer) { Value = batchSize });
            return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    internal static DateTimeOffset Millis(DateTimeOffset value) => DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());

    // PostgreSQL text cannot hold U+0000; a record with one must still land (a poisoned batch would block the trail).
    private static string? Clean(string? value) =>
        value is null || !value.Contains('\0', StringComparison.Ordinal) ? value : value.Replace('\0', '\uFFFD');

    private static string DetailsJson(IReadOnlyDictionary<string, object?> details)
    {
        var json = JsonSerializer.Serialize(details, SqliteAuditStore.DetailsJson);
        if (!json.Contains("\\u0000", StringComparison.Ordinal))
        {
            return json;
        }
        // jsonb refuses \u0000 too: rewrite the strings that hold it.
        var node = JsonNode.Parse(json);
        return CleanNode(node)?.ToJsonString(SqliteAuditStore.DetailsJson) ?? "null";
    }

    private static JsonNode? CleanNode(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (key, value) in o.ToList())
                {
                    copy[Clean(key)!] = CleanNode(value?.DeepClone());
                }
                return copy;
            case JsonArray a:
                return new JsonArray([.. a.Select(v => CleanNode(v?.DeepClone()))]);
            case JsonValue v when v.TryGetValue<string>(out var s):
                return JsonValue.Create(Clean(s));
            default:
                return node?.DeepClone();
        }
    }
}
