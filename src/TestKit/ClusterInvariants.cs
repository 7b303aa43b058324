using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace CollabAkka.TestKit;

/// <summary>A cluster invariant did not hold (thrown by <see cref="ClusterInvariants"/>; test frameworks report it as a failure).</summary>
public sealed class InvariantViolationException(string message) : Exception(message);

/// <summary>One lock grant as the audit trail tells it (<c>LOCK_ACQUIRED</c> and the event that ended it).</summary>
/// <param name="AcquiredAt">The grant's own time (stored expiry minus TTL), not when the record was written.</param>
/// <param name="AuditedAt">When the <c>LOCK_ACQUIRED</c> record was written (later than the grant for a node stalled in between).</param>
public sealed record AuditedLockGrant(string Resource, string LockId, long Token, DateTimeOffset AcquiredAt, DateTimeOffset ExpiresAt, string Node,
    DateTimeOffset AuditedAt)
{
    public DateTimeOffset? EndedAt { get; internal set; }

    public string? EndReason { get; internal set; }

    public override string ToString() =>
        $"lock {LockId[^Math.Min(8, LockId.Length)..]} token {Token} acquired {AcquiredAt:HH:mm:ss.fff} on {Node}, ended {EndedAt:HH:mm:ss.fff} ({EndReason ?? "no audited end"})";
}

/// <summary>
/// Checks a test (ours or an integrator's) runs against a cluster, in-process (<see cref="CollabTestCluster"/>) or of
/// processes (<see cref="CollabClusterProcesses"/>), over the nodes' public HTTP surface and the PostgreSQL schema they
/// share: membership, presence equal on every node, at most one lock holder with increasing fencing tokens, every
/// acknowledged edit durable. Each polls with a deadline where the system converges (presence, membership) and
/// throws <see cref="InvariantViolationException"/> (or <see cref="TimeoutException"/>) with what it saw.
/// </summary>
public static class ClusterInvariants
{
    /// <summary>Waits until every node in <paramref name="nodes"/> sees exactly <paramref name="members"/> members Up and reachable.</summary>
    public static async Task WaitMembersUpAsync(IEnumerable<ICollabNode> nodes, int members, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var node in nodes)
        {
            while (true)
            {
                var view = await node.GetMembersAsync().ConfigureAwait(false);
                var up = view.GetProperty("members").EnumerateArray()
                    .Count(m => m.GetProperty("status").GetString() == "Up" && m.GetProperty("reachable").GetBoolean());
                if (up == members)
                {
                    break;
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{node.BaseUrl} sees {up} members Up, not {members}: {view}");
                }
                await Task.Delay(100).ConfigureAwait(false); // membership converges by gossip: nothing to await
            }
        }
    }

    /// <summary>
    /// Presence is the same on every node: each one's <c>GET /api/resources/{id}</c> lists exactly
    /// <paramref name="expectedUsers"/> (user ids, across the root's sub-resources) within <paramref name="timeout"/>.
    /// </summary>
    public static async Task AssertPresenceAsync(IEnumerable<ICollabNode> nodes, string resourceId, IEnumerable<string> expectedUsers, TimeSpan timeout)
    {
        var expected = expectedUsers.Order(StringComparer.Ordinal).ToList();
        foreach (var node in nodes)
        {
            var seen = "nothing";
            var settled = await PollAsync(async () =>
            {
                var state = await node.GetResourceStateAsync(resourceId).ConfigureAwait(false);
                var users = UsersOf(state);
                seen = $"totalUsers {state.GetProperty("totalUsers").GetInt32()}, users [{string.Join(",", users)}]";
                return state.GetProperty("totalUsers").GetInt32() == expected.Count && users.SequenceEqual(expected);
            }, timeout).ConfigureAwait(false);
            if (!settled)
            {
                throw new InvariantViolationException(
                    $"{resourceId} on {node.BaseUrl}: presence is not [{string.Join(",", expected)}] after {timeout.TotalSeconds:0} s: {seen}");
            }
        }
    }

    /// <summary>The user ids in an entity's state (<c>GET /api/resources/{id}</c>), across its sub-resources, sorted.</summary>
    public static List<string> UsersOf(JsonElement state) =>
        state.GetProperty("resources").EnumerateArray()
            .SelectMany(r => r.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("userId").GetString()!))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// A resource id <c>{prefix}-k</c> whose entity lives on node <paramref name="nodeId"/>: reading each candidate's
    /// state through <paramref name="via"/> activates it where its shard lives, until one is on that node.
    /// </summary>
    public static async Task<string> PlaceOnAsync(ICollabNode via, string prefix, string nodeId, int candidates = 100)
    {
        ArgumentNullException.ThrowIfNull(via);
        for (var k = 0; k < candidates; k++)
        {
            var id = $"{prefix}-{k.ToString(CultureInfo.InvariantCulture)}";
            var state = await WhileUnavailableAsync(() => via.GetResourceStateAsync(id), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (state.GetProperty("ownerNodeId").GetString() == nodeId)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"no id {prefix}-k in {candidates} lives on {nodeId}");
    }

    /// <summary>The lock grants of <paramref name="resources"/> in the audit trail of <paramref name="schema"/>, each with its end if audited.</summary>
    public static async Task<IReadOnlyList<AuditedLockGrant>> ReadLockGrantsAsync(string connectionString, string schema, IReadOnlyCollection<string> resources)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var query = new NpgsqlCommand($"""
            SELECT event_type, resource_id, ts, node_id, details->>'lockId', details->>'fencingToken', details->>'expiresAt', details->>'reason',
                   details->>'ttlSeconds'
            FROM "{schema}".audit_events
            WHERE resource_id = ANY(@r) AND event_type IN ('LOCK_ACQUIRED', 'LOCK_RELEASED', 'LOCK_EXPIRED', 'LOCK_FORCE_RELEASED')
            ORDER BY id
            """, connection);
        query.Parameters.AddWithValue("r", resources.ToArray());
        var locks = new Dictionary<string, AuditedLockGrant>();
        var ends = new List<(string LockId, DateTimeOffset At, string Reason)>();
        await using var reader = await query.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false))
        {
            var type = reader.GetString(0);
            var at = new DateTimeOffset(reader.GetFieldValue<DateTime>(2), TimeSpan.Zero);
            var lockId = reader.GetString(4);
            if (type == "LOCK_ACQUIRED")
            {
                if (locks.ContainsKey(lockId))
                {
                    throw new InvariantViolationException($"lock {lockId} acquired twice in the audit trail");
                }
                // The grant's own time (as stored: expiresAt - TTL), not the record's: a node stalled between its lock
                // write and the audit call (SIGSTOP) records LOCK_ACQUIRED with the time it woke up, possibly after the
                // lock, restored elsewhere from the store, was already released (seen in the chaos run).
                var expires = DateTimeOffset.Parse(reader.GetString(6), CultureInfo.InvariantCulture);
                var acquired = expires - TimeSpan.FromSeconds(double.Parse(reader.GetString(8), CultureInfo.InvariantCulture));
                locks[lockId] = new AuditedLockGrant(reader.GetString(1), lockId, long.Parse(reader.GetString(5), CultureInfo.InvariantCulture), acquired,
                    expires, reader.IsDBNull(3) ? "?" : reader.GetString(3), at);
            }
            else
            {
                ends.Add((lockId, at, reader.IsDBNull(7) ? type : reader.GetString(7)));
            }
        }
        foreach (var (lockId, at, reason) in ends)
        {
            if (locks.TryGetValue(lockId, out var l))
            {
                if (l.EndedAt is not null)
                {
                    throw new InvariantViolationException($"lock {lockId} ended twice in the audit trail: {l.EndReason} and {reason}");
                }
                l.EndedAt = at;
                l.EndReason = reason;
            }
        }
        return [.. locks.Values];
    }

    /// <summary>
    /// At most one holder per resource at any moment, and fencing tokens strictly increasing with time, in the grant
    /// history: each grant must have ended (audited) before the next one began. A grant without an audited end passes
    /// when it had expired by then, or when <paramref name="endMayBeLost"/> says its end record may have been lost
    /// between the two grant times (a node killed with its audit buffer); those are counted and returned.
    /// </summary>
    public static int AssertSingleLockHolder(IEnumerable<AuditedLockGrant> grants, Func<DateTimeOffset, DateTimeOffset, bool>? endMayBeLost = null)
    {
        var unverified = 0;
        foreach (var byResource in grants.GroupBy(l => l.Resource))
        {
            var ordered = byResource.OrderBy(l => l.AcquiredAt).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                var (a, b) = (ordered[i - 1], ordered[i]);
                if (a.Token >= b.Token)
                {
                    throw new InvariantViolationException($"{byResource.Key}: audited grants' fencing tokens do not increase with time: {a} then {b}");
                }
                if (a.EndedAt is { } end)
                {
                    if (end > b.AcquiredAt)
                    {
                        throw new InvariantViolationException($"{byResource.Key}: two holders at once in the audit trail: {a} still held when {b} was granted");
                    }
                }
                else if (b.AcquiredAt >= a.ExpiresAt || endMayBeLost?.Invoke(a.AcquiredAt, b.AcquiredAt.AddSeconds(5)) == true)
                {
                    unverified++; // expired (dropped on load without a record) or its end was in the buffer of a killed node
                }
                else
                {
                    throw new InvariantViolationException($"{byResource.Key}: {a} has no audited end, yet {b} was granted");
                }
            }
        }
        return unverified;
    }

    /// <summary>The store's last fencing token of <paramref name="resource"/> (0 when none was handed out).</summary>
    public static Task<long> LastFencingTokenAsync(string connectionString, string schema, string resource) =>
        ScalarAsync(connectionString, $"SELECT COALESCE(MAX(last_token), 0) FROM \"{schema}\".fencing_tokens WHERE resource_id = @r", resource);

    /// <summary>The newest document revision the store has for <paramref name="resource"/> (0 when none).</summary>
    public static Task<long> NewestStoredRevisionAsync(string connectionString, string schema, string resource) =>
        ScalarAsync(connectionString, $"SELECT COALESCE(MAX(revision), 0) FROM \"{schema}\".doc_updates WHERE resource_id = @r", resource);

    private static async Task<long> ScalarAsync(string connectionString, string sql, string resource)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("r", resource);
        return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    /// <summary>
    /// Every acknowledged edit is durable: the live content <paramref name="node"/> serves is at the newest stored
    /// revision (no stale incarnation answered), equals that revision rebuilt from the store, and its text field
    /// <paramref name="field"/> contains each of <paramref name="acknowledged"/>. Returns the text.
    /// </summary>
    public static async Task<string> AssertAcknowledgedContentAsync(ICollabNode node, string connectionString, string schema, string resource,
        IEnumerable<string> acknowledged, string field = "notes")
    {
        var live = await WhileUnavailableAsync(() => node.GetContentAsync(resource), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var revision = live.GetProperty("revision").GetInt64();
        var text = TextOf(live, field);
        var newest = await NewestStoredRevisionAsync(connectionString, schema, resource).ConfigureAwait(false);
        if (revision != newest)
        {
            throw new InvariantViolationException($"{resource}: the live content is at revision {revision}, the store has revision {newest}: a stale incarnation answered");
        }
        // The same revision rebuilt from the store (snapshot + log): what survives any crash. 404 while the newest
        // revision's commit is still on its way (polling with a deadline).
        string? stored = null;
        if (!await PollAsync(async () =>
            {
                stored = TextOf(await node.GetContentAtAsync(resource, revision).ConfigureAwait(false), field);
                return true;
            }, TimeSpan.FromSeconds(15)).ConfigureAwait(false))
        {
            throw new InvariantViolationException($"{resource}: revision {revision} not readable from the store within 15 s");
        }
        if (text != stored)
        {
            throw new InvariantViolationException($"{resource}: the live content (revision {revision}) differs from the stored one:\nlive   {text}\nstored {stored}");
        }
        var all = acknowledged.ToList();
        var missing = all.Where(a => !text.Contains(a, StringComparison.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new InvariantViolationException($"{resource}: {missing.Count} of {all.Count} acknowledged edits are missing from the content (revision {revision}): " +
                                                  string.Join("; ", missing.Take(10)));
        }
        return text;
    }

    /// <summary>
    /// <paramref name="read"/>, again while it answers 503 (<c>UNAVAILABLE</c>: the entity is being handed off, e.g. a
    /// rebalance toward a node that just rejoined), as an operator would, until <paramref name="timeout"/> has passed.
    /// </summary>
    public static async Task<JsonElement> WhileUnavailableAsync(Func<Task<JsonElement>> read, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(read);
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return await read().ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < until)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    /// <summary><c>GET /api/resources/{id}/content?revision=r</c> as an operator: that revision rebuilt from the store.</summary>
    public static Task<JsonElement> GetContentAtAsync(this ICollabNode node, string resource, long revision) =>
        node.GetAsOperatorAsync($"/api/resources/{resource}/content?revision={revision.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The string field <paramref name="field"/> of a content answer's <c>content</c> ("" when absent).</summary>
    public static string TextOf(JsonElement content, string field = "notes") =>
        content.GetProperty("content").TryGetProperty(field, out var value) ? value.GetString() ?? "" : "";

    /// <summary>Polls an observable condition until it holds or the timeout passes (reads that fail meanwhile count as "not yet").</summary>
    public static async Task<bool> PollAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException or JsonException or IOException)
            {
                // a node answering 503 or going away while we read
            }
            if (DateTime.UtcNow > until)
            {
                return false;
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
    }
}
