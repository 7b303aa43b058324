using System.Text;
using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Resources;
using Microsoft.Data.Sqlite;

namespace CollabAkka.Node.Storage;

/// <summary>Audit trail in the embedded SQLite file.</summary>
public sealed class SqliteAuditStore(SqliteDatabase database) : IAuditStore
{
    internal static readonly JsonSerializerOptions DetailsJson = new(JsonSerializerDefaults.Web);

    public Task AppendAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            await using var tx = turn.BeginTransaction();
            await InsertAsync(turn, tx, events, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);

    /// <summary>Inserts events inside the caller's transaction (the document store writes EDIT records with their updates).</summary>
    internal static async Task InsertAsync(SqliteDatabase.WriteTurn turn, SqliteTransaction tx, IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }
        var insert = turn.Command("""
            INSERT INTO audit_events (ts_ms, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details)
            VALUES ($ts, $type, $user, $username, $role, $resource, $session, $node, $ip, $ua, $correlation, $details)
            """, tx);
        var p = new[]
        {
            insert.Parameters.Add("$ts", SqliteType.Integer), insert.Parameters.Add("$type", SqliteType.Text),
            insert.Parameters.Add("$user", SqliteType.Text), insert.Parameters.Add("$username", SqliteType.Text),
            insert.Parameters.Add("$role", SqliteType.Text), insert.Parameters.Add("$resource", SqliteType.Text),
            insert.Parameters.Add("$session", SqliteType.Text), insert.Parameters.Add("$node", SqliteType.Text),
            insert.Parameters.Add("$ip", SqliteType.Text), insert.Parameters.Add("$ua", SqliteType.Text),
            insert.Parameters.Add("$correlation", SqliteType.Text), insert.Parameters.Add("$details", SqliteType.Text),
        };
        foreach (var e in events)
        {
            p[0].Value = e.Timestamp.ToUnixTimeMilliseconds();
            p[1].Value = e.EventType;
            p[2].Value = (object?)e.UserId ?? DBNull.Value;
            p[3].Value = (object?)e.Username ?? DBNull.Value;
            p[4].Value = (object?)e.Role ?? DBNull.Value;
            p[5].Value = (object?)e.ResourceId ?? DBNull.Value;
            p[6].Value = (object?)e.SessionId ?? DBNull.Value;
            p[7].Value = (object?)e.NodeId ?? DBNull.Value;
            p[8].Value = (object?)e.Ip ?? DBNull.Value;
            p[9].Value = (object?)e.UserAgent ?? DBNull.Value;
            p[10].Value = (object?)e.CorrelationId ?? DBNull.Value;
            p[11].Value = e.Details is null ? DBNull.Value : JsonSerializer.Serialize(e.Details, DetailsJson);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyList<StoredAuditEvent>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        SqliteDatabase.Guard<IReadOnlyList<StoredAuditEvent>>(async () =>
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var select = connection.CreateCommand();
            var sql = new StringBuilder("SELECT id, ts_ms, event_type, user_id, username, role, resource_id, session_id, node_id, ip, user_agent, correlation_id, details FROM audit_events WHERE 1=1");
            void Filter(string condition, string name, object? value)
            {
                if (value is not null)
                {
                    sql.Append(" AND ").Append(condition);
                    select.Parameters.AddWithValue(name, value);
                }
            }
            Filter("user_id = $user", "$user", query.UserId);
            Filter("resource_id = $resource", "$resource", query.ResourceId);
            Filter("event_type = $type", "$type", query.EventType);
            Filter("correlation_id = $correlation", "$correlation", query.CorrelationId);
            Filter("ts_ms >= $from", "$from", query.From?.ToUnixTimeMilliseconds());
            Filter("ts_ms < $to", "$to", query.To?.ToUnixTimeMilliseconds());
            Filter("id > $after", "$after", query.AfterId);
            // Implied by the time filter (every row in range has an id at least this), and lets the first page's
            // id-ordered scan start where the range starts instead of at the oldest row.
            Filter("id >= (SELECT MIN(id) FROM audit_events WHERE ts_ms >= $fromHint)", "$fromHint",
                query.AfterId is null ? query.From?.ToUnixTimeMilliseconds() : null);
            sql.Append(" ORDER BY id LIMIT $limit");
            select.Parameters.AddWithValue("$limit", query.Limit);
            select.CommandText = sql.ToString();
            var result = new List<StoredAuditEvent>();
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                string? S(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                var details = S(12) is { } json ? JsonSerializer.Deserialize<Dictionary<string, object?>>(json, DetailsJson) : null;
                result.Add(new StoredAuditEvent(reader.GetInt64(0), new AuditEvent
                {
                    Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                    EventType = reader.GetString(2),
                    UserId = S(3), Username = S(4), Role = S(5), ResourceId = S(6), SessionId = S(7), NodeId = S(8),
                    Ip = S(9), UserAgent = S(10), CorrelationId = S(11), Details = details,
                }));
            }
            return result;
        });

    public Task<int> PurgeAsync(DateTimeOffset olderThan, int batchSize, CancellationToken cancellationToken) =>
        database.WriteAsync(async turn =>
        {
            var delete = turn.Command("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE ts_ms < $cutoff ORDER BY id LIMIT $n)");
            delete.Parameters.AddWithValue("$cutoff", olderThan.ToUnixTimeMilliseconds());
            delete.Parameters.AddWithValue("$n", batchSize);
            return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
}
