// Document sync, the second layer of CollabProvider.
//
// After joining, doc:sync sends our state vector; the answer holds what we lack and the server's vector,
// from which we compute what the server lacks and send it with doc:update (editors only). While connected
// as editor, local edits go out as doc:update, merged per 20 ms window (typing stays far below the rate
// limit). Otherwise (offline, a viewer, a refused or unacknowledged update) they stay in the doc, are
// flagged unsent and go out with the next sync that finds us an editor: the next connect, or a lock
// acquired later. The SDK also keeps them in an encrypted IndexedDB cache meanwhile (offline-store.ts).
import * as Y from 'yjs';
import { fromBase64, requestId, toBase64 } from '../util';
import { ErrorCodes } from './codes';
import { ProviderConnection, type Hub } from './connection';
import type { ApiBroadcast, JoinMode, ProviderOptions } from './types';

/** Local updates within this window are merged into one doc:update (keeps typing under the rate limit). */
const FLUSH_MS = 20;

export abstract class DocSync extends ProviderConnection {
  /** Mode granted by the server (editor only while we hold a lock). */
  mode: JoinMode = 'viewer';

  private _synced = false;
  private _unsent = false;
  /** Batches sent or queued and not yet acknowledged. */
  private _inFlight = 0;
  private _outbox: Uint8Array[] = [];
  private _flushTimer: ReturnType<typeof setTimeout> | null = null;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _retries = 0;
  private readonly _onDocUpdate: (update: Uint8Array, origin: unknown) => void;

  constructor(serverUrl: string, resourceId: string, doc: Y.Doc, options: ProviderOptions) {
    super(serverUrl, resourceId, doc, options);
    this._onDocUpdate = (update, origin) => {
      if (origin === this) return; // came from the server
      if (this.canSend) {
        this._sendUpdate(update);
      } else {
        this._setUnsent(true);
      }
      this.emit('local-update', [update]);
    };
    doc.on('update', this._onDocUpdate);
  }

  get synced(): boolean {
    return this._synced;
  }

  set synced(state: boolean) {
    if (this._synced !== state) {
      this._synced = state;
      this.emit('synced', [state]);
      this.emit('sync', [state]);
    }
  }

  /** True when local edits exist that the server has not acknowledged. */
  get hasUnsentChanges(): boolean {
    return this._unsent || this._inFlight > 0;
  }

  /** Local edits go to the server now (connected, synced, editor); otherwise they wait for the next sync. */
  get canSend(): boolean {
    return this.wsconnected && this._synced && this.mode === 'editor';
  }

  /** Marks local edits as waiting for the next sync (e.g. restored from the offline cache). */
  markUnsent(): void {
    this._setUnsent(true);
  }

  protected override _wire(connection: Hub): void {
    connection.on('doc:update', (b: ApiBroadcast<{ update: string }>) => {
      if (!this._mine(b)) return;
      if (b.newRevision) this.revision = b.newRevision;
      Y.applyUpdate(this.doc, fromBase64(b.payload.update), this);
      this.emit('remote-update', [b.triggeredBy]);
    });
  }

  /** doc:sync: fetch what we lack, then push what the server lacks (when we may). */
  protected async _resync(): Promise<void> {
    const run = this._runId;
    const r = await this.invoke<{ update: string; stateVector: string; revision: number }>('doc:sync', {
      resourceId: this.resourceId,
      stateVector: toBase64(Y.encodeStateVector(this.doc)),
    });
    if (run !== this._runId || !this.wsconnected) return;
    if (!r.success || !r.data) {
      this._error(r.error?.code ?? ErrorCodes.Unavailable, r.error?.message ?? 'doc:sync failed');
      void this._drop('sync-failed');
      return;
    }
    Y.applyUpdate(this.doc, fromBase64(r.data.update), this);
    this.revision = r.data.revision ?? this.revision;
    const serverVector = fromBase64(r.data.stateVector);
    this.synced = true;
    // Deletions do not advance a state vector, so local edits are tracked by the unsent flag; the vector
    // comparison catches structs the server lacks for any other reason.
    if (this._unsent || isAhead(Y.encodeStateVector(this.doc), serverVector)) {
      const missing = Y.encodeStateAsUpdate(this.doc, serverVector);
      if (this.mode === 'editor' && hasContent(missing)) {
        this._setUnsent(false);
        this._sendUpdate(missing);
      } else if (this.mode === 'editor') {
        this._setUnsent(false);
        this._checkIdle();
      } else {
        this._setUnsent(true);
      }
    } else {
      this._checkIdle();
    }
    this.emit('resynced', []);
  }

  /** Queues a local update; updates within one short window go out merged as one doc:update. */
  private _sendUpdate(update: Uint8Array): void {
    this._outbox.push(update);
    if (this._outbox.length === 1) {
      this._inFlight++; // counts the queued batch, so hasUnsentChanges is true at once
      this.emit('pending', [true]);
      this._flushTimer = setTimeout(() => this._flush(), FLUSH_MS);
    }
  }

  private _takeOutbox(): Uint8Array | null {
    const batch = this._outbox.splice(0);
    return batch.length === 0 ? null : batch.length === 1 ? batch[0] : Y.mergeUpdates(batch);
  }

  private _flush(): void {
    this._flushTimer = null;
    const update = this._takeOutbox();
    if (!update) return;
    const run = this._runId;
    void this.invoke('doc:update', { resourceId: this.resourceId, update: toBase64(update) }).then((r) => {
      if (run !== this._runId) return; // the connection ended meanwhile; the next sync carries it
      this._inFlight--;
      if (r.success) {
        if (r.newRevision) this.revision = r.newRevision;
        this._retries = 0;
      } else {
        // Not lost: the update stays in the doc and the next sync carries it.
        this._setUnsent(true);
        const code = r.error?.code ?? ErrorCodes.Unavailable;
        if (code !== ErrorCodes.Unavailable && code !== ErrorCodes.RateLimited) this._error(code, r.error?.message ?? '');
        if (code !== ErrorCodes.PermissionDenied && code !== ErrorCodes.NotJoined) this._scheduleRetry();
      }
      this._checkIdle();
    });
  }

  /** Re-syncs after a refused or failed update (rate limit, storage hiccup), with a growing delay. */
  private _scheduleRetry(): void {
    if (this._retryTimer) return;
    const delay = Math.min(10000, 500 * 2 ** this._retries++);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this.wsconnected && this._unsent) void this._resync();
    }, delay);
  }

  protected _checkIdle(): void {
    if (!this.hasUnsentChanges) this.emit('saved', []);
    this.emit('pending', [this.hasUnsentChanges]);
  }

  protected _setUnsent(value: boolean): void {
    if (this._unsent !== value) {
      this._unsent = value;
      this.emit('pending', [this.hasUnsentChanges]);
    }
  }

  protected get _hasUnsentFlag(): boolean {
    return this._unsent;
  }

  /** Leaving: what is queued goes out unacknowledged (the server applies it before the leave). */
  protected override _beforeLeave(): void {
    const update = this._takeOutbox();
    if (update) this._send('doc:update', { resourceId: this.resourceId, update: toBase64(update), requestId: requestId() });
  }

  protected override _onDown(_left: boolean): void {
    this.synced = false;
    // Unacknowledged or queued updates are re-sent by the next sync: mark them.
    if (this._inFlight > 0 || this._outbox.length > 0) this._setUnsent(true);
    this._inFlight = 0;
    this._outbox = [];
    if (this._flushTimer) clearTimeout(this._flushTimer);
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._flushTimer = this._retryTimer = null;
  }

  protected override _onDestroy(): void {
    this.doc.off('update', this._onDocUpdate);
  }
}

/** Whether vector `a` has a clock beyond vector `b` for some client. */
function isAhead(a: Uint8Array, b: Uint8Array): boolean {
  const mine = Y.decodeStateVector(a);
  const theirs = Y.decodeStateVector(b);
  for (const [client, clock] of mine) {
    if (clock > (theirs.get(client) ?? 0)) return true;
  }
  return false;
}

/** An update with no structs and no deletions is two zero bytes. */
function hasContent(update: Uint8Array): boolean {
  return !(update.length === 2 && update[0] === 0 && update[1] === 0);
}
