using System.Text.Json;
using CollabAkka.Entities.Audit;
using CollabAkka.Entities.Routing;
using CollabAkka.Messages;
using CollabAkka.Messages.Entity;
using CollabAkka.Messages.Wire;
using CollabAkka.Yjs;

namespace CollabAkka.Entities.Resources;

// Documents: one Y.js document per resource id, loaded lazily (newest snapshot + the log after it).
// An accepted update is applied in memory, broadcast to the other members at once, handed to the
// node's DocumentCommitter, and acknowledged to its sender (with its revision) only once durable.
// The entity never waits for the commit: it returns a PendingCommit, and its host replies when the commit
// reports back (as a message to the entity, so the count of uncommitted updates is only touched there).
internal sealed partial class ResourceEntity
{
    private sealed record AwarenessState(string ConnectionId, long Clock, string StateJson);

    private sealed class DocumentState(YDoc doc, long snapshotRevision)
    {
        public YDoc Doc { get; } = doc;
        public long SnapshotRevision { get; set; } = snapshotRevision;

        /// <summary>
        /// At least the size of the encoded state (<see cref="DocumentOptions.MaxDocumentBytes"/>): exact when
        /// <see cref="SizeExact"/> (measured, or a snapshot just taken), else that plus every update accepted since,
        /// which merging can only shrink. Measured again only when an edit would take this past the limit.
        /// </summary>
        public long SizeBound { get; set; }

        public bool SizeExact { get; set; }

        /// <summary>When the newest accepted update (and its audit record) is durable; null before the first.</summary>
        public Task<CommitOutcome>? LastCommit { get; set; }

        // Accepted updates whose commit has not reported yet, oldest first (bounded by the committer's own limit).
        private readonly Queue<(byte[] Update, Task<CommitOutcome> Durable)> _uncommitted = new();

        public void Accepted(byte[] update, Task<CommitOutcome> durable)
        {
            while (_uncommitted.TryPeek(out var oldest) && oldest.Durable.IsCompleted)
            {
                _uncommitted.Dequeue();
            }
            _uncommitted.Enqueue((update, durable));
        }

        /// <summary>The commit of an accepted, not yet durable update with exactly these bytes (a re-sent copy), if any.</summary>
        public Task<CommitOutcome>? UncommittedCopyOf(byte[] update)
        {
            foreach (var (bytes, durable) in _uncommitted)
            {
                if (!durable.IsCompleted && bytes.AsSpan().SequenceEqual(update))
                {
                    return durable;
                }
            }
            return null;
        }
    }

    // Updates handed to the committer and not yet durable; the entity must not passivate before they are.
    private int _uncommitted;

    private async Task<DocumentState> EnsureDocumentAsync(ResourceRoom room)
    {
        if (room.Document is { } loaded)
        {
            return loaded;
        }
        var store = _runtime.Documents;
        var doc = new YDoc(maxDepth: _runtime.DocumentOptions.MaxNestingDepth);
        var snapshot = await store.LoadSnapshotAsync(room.Id.Value, null, CancellationToken.None).ConfigureAwait(false);
        var revision = 0L;
        var size = 0L;
        try
        {
            if (snapshot is not null)
            {
                doc.ApplyUpdate(snapshot.State);
                revision = snapshot.Revision;
                size = snapshot.State.Length;
            }
            foreach (var update in await store.ReadUpdatesAsync(room.Id.Value, revision, null, CancellationToken.None).ConfigureAwait(false))
            {
                doc.ApplyUpdate(update.Update);
                revision = update.Revision;
                size += update.Update.Length;
            }
        }
        catch (YjsDecodeException ex)
        {
            throw new StoreUnavailableException($"Stored document of {room.Id.Value} is unreadable at revision {revision + 1}: {ex.Message}", ex);
        }
        room.Revision = revision;
        room.Document = new DocumentState(doc, snapshot?.Revision ?? 0) { SizeBound = size };
        return room.Document;
    }

    /// <summary>
    /// PAYLOAD_TOO_LARGE when an edit adding <paramref name="adding"/> bytes could take the document past
    /// <see cref="DocumentOptions.MaxDocumentBytes"/>; null when it fits. Near the limit the state is measured, and of
    /// an update only what the document lacks counts (a re-sent copy, or a deletion, adds next to nothing).
    /// </summary>
    private EntityReply? DocumentFull(DocumentState state, int adding, byte[]? update = null)
    {
        var max = _runtime.DocumentOptions.MaxDocumentBytes;
        if (state.SizeBound + adding <= max)
        {
            return null;
        }
        if (!state.SizeExact)
        {
            state.SizeBound = state.Doc.EncodeStateAsUpdate(null, includePending: false).Length;
            state.SizeExact = true;
        }
        if (update is not null && state.SizeBound + adding > max)
        {
            try
            {
                adding = YUpdate.Diff(update, state.Doc.EncodeStateVector()).Length;
            }
            catch (YjsDecodeException)
            {
                return null; // not an update at all: applying it refuses it as INVALID_UPDATE
            }
        }
        return state.SizeBound + adding <= max ? null
            : EntityReply.Refuse(ErrorCodes.PayloadTooLarge,
                $"This edit would take the document past {max} bytes (Collab:Documents:MaxDocumentBytes; it has {state.SizeBound}); nothing was changed.");
    }

    private async Task<EntityReply> OnSyncAsync(SyncDocument sync)
    {
        if (!_rooms.TryGetValue(sync.Resource.Value, out var room) || !room.Members.TryGetValue(sync.ConnectionId, out var syncing))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"Join {sync.Resource.Value} before syncing its document.");
        }
        if (!room.Policy.For(syncing.Info.Role).CanView)
        {
            return EntityReply.Refuse(ErrorCodes.PermissionDenied, $"This role may not view {room.Policy.TypeKey} resources.");
        }
        var state = await EnsureDocumentAsync(room).ConfigureAwait(false);
        byte[] missing;
        try
        {
            missing = state.Doc.EncodeStateAsUpdate(sync.StateVector.Length == 0 ? null : sync.StateVector, includePending: false);
        }
        catch (YjsDecodeException ex)
        {
            return EntityReply.Refuse(ErrorCodes.InvalidUpdate, $"The state vector is malformed: {ex.Message}");
        }
        return EntityReply.Ok(new DocSyncResult(room.Id.Value, Convert.ToBase64String(missing),
            Convert.ToBase64String(state.Doc.EncodeStateVector()), room.Revision), room.Revision);
    }

    private async Task<EntityReply> OnDocumentUpdateAsync(ApplyDocumentUpdate command, string correlationId)
    {
        if (CheckWriter(command.Resource, command.Member) is { } refused)
        {
            return refused;
        }
        NoteDocumentActivity(command.Resource, command.Member);
        var room = _rooms[command.Resource.Value];
        if (Overloaded() is { } unavailable)
        {
            // A re-sent copy of an update that is applied and waiting for its commit (the router retries an attempt that
            // outlived its timeout, the store being slow) adds nothing to write or audit: it is answered like the first
            // copy, once that is durable, instead of being refused while the first copy goes on to succeed.
            if (room.Document?.UncommittedCopyOf(command.Update) is not { } first)
            {
                return unavailable;
            }
            var repeated = EntityReply.Ok(new DuplicateUpdateResult(Duplicate: true, Pending: false), room.Revision);
            _uncommitted++;
            _deferred = new PendingCommit(first, repeated);
            return repeated;
        }
        var state = await EnsureDocumentAsync(room).ConfigureAwait(false);
        if (DocumentFull(state, command.Update.Length, command.Update) is { } tooLarge)
        {
            return tooLarge;
        }
        var changed = new HashSet<string>(StringComparer.Ordinal);
        var touched = false;
        void OnTransaction(object? sender, YTransactionEventArgs e)
        {
            touched = true;
            changed.UnionWith(e.ChangedRoots);
        }
        // With structs waiting for missing updates, what is stored and relayed is what was integrated (issue 12 item 13).
        var pendingBefore = state.Doc.HasPendingStructs || state.Doc.HasPendingDeletes;
        byte[]? integrated = null;
        void OnIntegrated(object? sender, YUpdateEventArgs e) => integrated = e.Update;
        YApplyResult result;
        state.Doc.AfterTransaction += OnTransaction;
        state.Doc.UpdateProduced += OnIntegrated;
        try
        {
            result = state.Doc.ApplyUpdate(command.Update);
        }
        catch (YjsDecodeException ex)
        {
            return EntityReply.Refuse(ErrorCodes.InvalidUpdate, $"The update is not a valid Y.js v1 update: {ex.Message}",
                new UpdateDecodeDetails(ex.Offset));
        }
        finally
        {
            state.Doc.AfterTransaction -= OnTransaction;
            state.Doc.UpdateProduced -= OnIntegrated;
        }
        var stored = PendingUpdates.Stored(state.Doc, command.Update, integrated, pendingBefore, result, _runtime.DocumentOptions);
        if (stored is null)
        {
            // Nothing integrated: a duplicate, or structs that wait (in memory only) for updates not yet received.
            var unchanged = EntityReply.Ok(new DuplicateUpdateResult(Duplicate: !touched && !result.HasPending, Pending: result.HasPending), room.Revision);
            // A re-sent update (a router retry, a resync) may be in memory but not yet durable: acknowledge it only
            // when the newest commit of this document is, so "success" never means less than for the first copy.
            if (state.LastCommit is { } last && !(last.IsCompletedSuccessfully && last.Result == CommitOutcome.Durable))
            {
                _uncommitted++;
                _deferred = new PendingCommit(last, unchanged);
            }
            return unchanged;
        }
        return Accept(room, state, command.Member, stored, changed, "doc:update", correlationId, includeSender: false);
    }

    private async Task<EntityReply> OnSetFieldAsync(SetDocumentField command, string correlationId)
    {
        if (CheckWriter(command.Resource, command.Member) is { } refused)
        {
            return refused;
        }
        NoteDocumentActivity(command.Resource, command.Member);
        var room = _rooms[command.Resource.Value];
        if (Overloaded() is { } unavailable)
        {
            return unavailable;
        }
        var state = await EnsureDocumentAsync(room).ConfigureAwait(false);
        if (command.Revision != room.Revision)
        {
            return EntityReply.Refuse(ErrorCodes.StaleRevision,
                $"Revision {command.Revision?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"} is not the current revision {room.Revision}; reload and save again.",
                new StaleRevisionDetails(room.Revision, new RawJson(state.Doc.ToJson())));
        }
        if (DocumentFull(state, System.Text.Encoding.UTF8.GetByteCount(command.Value.Json)) is { } tooLarge)
        {
            return tooLarge;
        }
        // The hub bound this value within its JSON depth limit; it crossed the region as text.
        using var parsed = JsonDocument.Parse(command.Value.Json, new JsonDocumentOptions { MaxDepth = Math.Max(64, state.Doc.MaxDepth + 2) });
        var value = parsed.RootElement;
        if (PendingUpdates.CheckFieldValue(command.Field, value, state.Doc.MaxDepth) is { } tooDeep)
        {
            return tooDeep;
        }
        var doc = state.Doc;
        byte[]? produced = null;
        void OnUpdate(object? sender, YUpdateEventArgs e) => produced = e.Update;
        var dot = command.Field.IndexOf('.', StringComparison.Ordinal);
        var root = dot < 0 ? command.Field : command.Field[..dot];
        var kind = doc.RootKind(root);
        doc.UpdateProduced += OnUpdate;
        try
        {
            if (dot < 0)
            {
                if (value.ValueKind != JsonValueKind.String)
                {
                    return EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Field '{root}' is text: its value must be a string.");
                }
                if (kind is not (null or "Text" or "Empty"))
                {
                    return EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Field '{root}' is a {kind}, not text; use '{root}.<key>' for map entries.");
                }
                ReplaceText(doc, doc.GetText(root), value.GetString()!);
            }
            else
            {
                if (kind is not (null or "Map" or "Empty"))
                {
                    return EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Field '{root}' is a {kind}, not a map.");
                }
                var map = doc.GetMap(root);
                var entry = ToYValue(value);
                doc.Transact(() => map.Set(command.Field[(dot + 1)..], entry));
            }
        }
        finally
        {
            doc.UpdateProduced -= OnUpdate;
        }
        if (produced is null)
        {
            return EntityReply.Ok(new UnchangedFieldResult(Unchanged: true), room.Revision);
        }
        return Accept(room, state, command.Member, produced, new HashSet<string>([root], StringComparer.Ordinal), "resource:update",
            correlationId, includeSender: true);
    }

    private async Task<EntityReply> OnGetContentAsync(GetDocumentContent query)
    {
        if (_runtime.Catalog.Resolve(query.Resource) is not { } policy)
        {
            return EntityReply.Refuse(ErrorCodes.ValidationFailed, $"Resource type '{query.Resource.Type}' is not configured.");
        }
        var room = GetOrCreateRoom(query.Resource, policy);
        var state = await EnsureDocumentAsync(room).ConfigureAwait(false);
        return EntityReply.Ok(new DocumentContent(room.Id.Value, room.Revision, new RawJson(state.Doc.ToJson())), room.Revision);
    }

    private EntityReply OnAwareness(RelayAwareness command)
    {
        if (!_rooms.TryGetValue(command.Resource.Value, out var room) || !room.Members.ContainsKey(command.Member.ConnectionId))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"Join {command.Resource.Value} before sharing awareness.");
        }
        IReadOnlyList<YAwarenessEntry> entries;
        try
        {
            entries = YAwareness.Decode(command.Update);
        }
        catch (YjsDecodeException ex)
        {
            return EntityReply.Refuse(ErrorCodes.InvalidUpdate, $"The awareness update is malformed: {ex.Message}");
        }
        if (AwarenessGuard.Check(entries, command.Member.ConnectionId, id => room.Awareness.TryGetValue(id, out var owner) ? owner.ConnectionId : null,
                room.Awareness.Values.Count(a => a.ConnectionId == command.Member.ConnectionId), room.Awareness.Count, _runtime.DocumentOptions) is { } bounded)
        {
            return bounded;
        }
        NoteAwarenessActivity(room, command.Member.ConnectionId, entries);
        var accepted = new List<YAwarenessEntry>(entries.Count);
        foreach (var entry in entries)
        {
            // A client may only speak for its own awareness ids (never clear or overwrite someone else's).
            if (room.Awareness.TryGetValue(entry.ClientId, out var known) && known.ConnectionId != command.Member.ConnectionId)
            {
                continue;
            }
            accepted.Add(entry);
            if (entry.StateJson == "null")
            {
                room.Awareness.Remove(entry.ClientId);
            }
            else
            {
                room.Awareness[entry.ClientId] = new AwarenessState(command.Member.ConnectionId, entry.Clock, entry.StateJson);
            }
        }
        if (accepted.Count > 0)
        {
            var relay = accepted.Count == entries.Count ? command.Update : YAwareness.Encode(accepted);
            Broadcast(room, EventNames.AwarenessUpdate, new DocUpdatePayload(Convert.ToBase64String(relay), command.Member.SessionId),
                By(command.Member, MethodNames.AwarenessUpdate), except: command.Member.ConnectionId);
        }
        return EntityReply.Ok();
    }

    /// <summary>When a connection leaves a room, everyone else forgets its cursors.</summary>
    private void ClearAwareness(ResourceRoom room, MemberInfo member)
    {
        var gone = room.Awareness.Where(a => a.Value.ConnectionId == member.ConnectionId).ToList();
        if (gone.Count == 0)
        {
            return;
        }
        foreach (var (clientId, _) in gone)
        {
            room.Awareness.Remove(clientId);
        }
        var removal = YAwareness.Encode(gone.Select(a => new YAwarenessEntry(a.Key, a.Value.Clock + 1, "null")));
        Broadcast(room, EventNames.AwarenessUpdate, new DocUpdatePayload(Convert.ToBase64String(removal), member.SessionId),
            By(member, "disconnect"), except: member.ConnectionId);
    }

    /// <summary>A newcomer gets everyone's current cursors and focus in one awareness update.</summary>
    private void SendAwarenessSnapshot(ResourceRoom room, MemberInfo newcomer)
    {
        if (room.Awareness.Count == 0)
        {
            return;
        }
        var snapshot = AwarenessGuard.Snapshot(room.Awareness.Select(a => new YAwarenessEntry(a.Key, a.Value.Clock, a.Value.StateJson)), _runtime.DocumentOptions);
        _runtime.Events.Publish(new EntityBroadcast([new Recipient(newcomer.NodeId, newcomer.ConnectionId)],
            new EntityEvent(EventNames.AwarenessUpdate, room.Id.Value, new DocUpdatePayload(Convert.ToBase64String(snapshot), null),
                null, room.Revision, Now)));
    }

    /// <summary>Only members holding the editor lock, with a role that may edit, change a document.</summary>
    private EntityReply? CheckWriter(ResourceId resource, MemberInfo member)
    {
        if (!_rooms.TryGetValue(resource.Value, out var room) || !room.Members.TryGetValue(member.ConnectionId, out var joined))
        {
            return EntityReply.Refuse(ErrorCodes.NotJoined, $"Join {resource.Value} as editor before editing it.");
        }
        if (!room.Policy.For(member.Role).CanEdit)
        {
            return EntityReply.Refuse(ErrorCodes.PermissionDenied, $"Role '{member.Role}' may not edit {room.Policy.TypeKey} resources.");
        }
        if (joined.Mode != JoinMode.Editor)
        {
            return EntityReply.Refuse(ErrorCodes.PermissionDenied,
                $"Only the holder of the editor lock may edit {resource.Value}; this connection is a viewer.");
        }
        return null;
    }

    private EntityReply? Overloaded()
    {
        if (_runtime.Audit.IsSaturated)
        {
            return EntityReply.Refuse(ErrorCodes.Unavailable,
                $"The audit trail cannot keep up ({_runtime.Audit.Pending} events waiting; Collab:Audit:BufferCapacity is {_runtime.Audit.Capacity}); edits are paused until it catches up.");
        }
        if (_runtime.Committer.IsSaturated)
        {
            return EntityReply.Refuse(ErrorCodes.Unavailable,
                $"The document store cannot keep up ({_runtime.Committer.Pending} updates waiting; Collab:Documents:MaxPendingCommits is {_runtime.DocumentOptions.MaxPendingCommits}).");
        }
        return null;
    }

    /// <summary>
    /// Takes an applied update: next revision, broadcast, audit, durable commit. Returns the acknowledgement, which
    /// the host sends only once the commit reports durable (<see cref="_deferred"/>).
    /// </summary>
    private EntityReply Accept(ResourceRoom room, DocumentState state, MemberInfo member, byte[] update, IReadOnlyCollection<string> fields,
        string action, string correlationId, bool includeSender)
    {
        var revision = ++room.Revision;
        var now = Now;
        Broadcast(room, EventNames.DocUpdate, new DocUpdatePayload(Convert.ToBase64String(update), member.SessionId), By(member, action),
            except: includeSender ? null : member.ConnectionId);
        // The acknowledgement waits for the update and its EDIT record, written in one transaction: after a crash
        // neither can be missing.
        var edit = AuditEvent.For(member, "EDIT", now, room.Id.Value, correlationId, new Dictionary<string, object?>
        {
            ["revision"] = revision,
            ["bytes"] = update.Length,
            ["fields"] = fields.Order(StringComparer.Ordinal).ToArray(),
            ["via"] = action,
        });
        var durable = _runtime.Committer.CommitAsync(
            new DocumentUpdateRecord(room.Id.Value, revision, update, member.UserId, member.SessionId, now, Epoch), edit);
        state.SizeBound += update.Length;
        state.SizeExact = false;
        if (revision - state.SnapshotRevision >= _runtime.DocumentOptions.SnapshotEvery)
        {
            state.SnapshotRevision = revision;
            var snapshot = state.Doc.EncodeStateAsUpdate(null, includePending: false);
            state.SizeBound = snapshot.Length;
            state.SizeExact = true;
            _ = _runtime.Committer.SnapshotAsync(new DocumentSnapshot(room.Id.Value, revision, snapshot, now, Epoch));
        }
        _uncommitted++;
        var ack = EntityReply.Ok(new DocUpdateAck(room.Id.Value, revision), revision);
        state.LastCommit = durable;
        state.Accepted(update, durable);
        _deferred = new PendingCommit(durable, ack);
        return ack;
    }

    /// <summary>Replaces a text's content with a minimal edit: keep the common prefix and suffix.</summary>
    private static void ReplaceText(YDoc doc, YText text, string value)
    {
        var current = text.ToString();
        var prefix = 0;
        var max = Math.Min(current.Length, value.Length);
        while (prefix < max && current[prefix] == value[prefix])
        {
            prefix++;
        }
        var suffix = 0;
        while (suffix < max - prefix && current[current.Length - 1 - suffix] == value[value.Length - 1 - suffix])
        {
            suffix++;
        }
        // Never split a surrogate pair.
        if (prefix > 0 && char.IsHighSurrogate(current[prefix - 1]))
        {
            prefix--;
        }
        if (suffix > 0 && char.IsLowSurrogate(current[current.Length - suffix]))
        {
            suffix--;
        }
        var deleteLength = current.Length - prefix - suffix;
        var insert = value.Substring(prefix, value.Length - prefix - suffix);
        if (deleteLength == 0 && insert.Length == 0)
        {
            return;
        }
        doc.Transact(() =>
        {
            if (deleteLength > 0)
            {
                text.Delete(prefix, deleteLength);
            }
            if (insert.Length > 0)
            {
                text.Insert(prefix, insert);
            }
        });
    }

    private static object? ToYValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Object => value.EnumerateObject().ToDictionary(p => p.Name, p => ToYValue(p.Value), StringComparer.Ordinal),
        JsonValueKind.Array => value.EnumerateArray().Select(ToYValue).ToList(),
        _ => null,
    };
}
