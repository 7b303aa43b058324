// CollabProvider: one Y.Doc <-> one CollabAkka resource over the SignalR hub, in the shape of y-websocket's
// WebsocketProvider (doc, awareness, synced, wsconnected, on('sync'|'status'), connect(), disconnect(),
// destroy()), so any Y.js editor binding runs over our server.
//
// Connection life cycle (one HubConnection, restarted by us rather than by SignalR's reconnect so that a
// failed first start, a dead socket and the browser going offline all take the same path):
//
//   disconnected --connect()--> connecting --start+join+doc:sync--> connected (synced)
//        ^                          |  failure: backoff 0.25 s .. 15 s with jitter          |
//        +------ close / offline ---+<------------------------------------------------------+
//
// Sync: after joining, doc:sync sends our state vector; the answer holds what we lack and the server's
// vector, from which we compute what the server lacks and send it with doc:update (editors only).
// Local edits go out as doc:update while connected as editor; otherwise they stay in the doc and are
// flagged "unsent" until the next sync carries them (the SDK also keeps them in an encrypted IndexedDB
// cache). Presence and locks are server-authoritative; awareness carries only cursors/focus.
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { HubConnection, HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { Emitter } from './emitter';
import { fromBase64, requestId, toBase64 } from './util';

export type JoinMode = 'editor' | 'viewer';

export interface ProviderOptions {
  /** A JWT, or a function returning one (called on every (re)connect). */
  token?: string;
  tokenProvider?: () => string | Promise<string>;
  /** Requested mode: editor takes the lock when free (default editor). */
  mode?: JoinMode;
  /** Connect at once (default true, like y-websocket). */
  connect?: boolean;
  awareness?: awarenessProtocol.Awareness;
  /** Hub path on the gateway (default /hubs/collab). */
  hubPath?: string;
  /** 'websockets' (default: no negotiate round-trip, works cross-origin without CORS) or 'auto'. */
  transport?: 'websockets' | 'auto';
  /** Take the lock automatically when it becomes free while we wanted to edit (default true). */
  autoAcquire?: boolean;
  /** Backoff bounds for reconnecting, in ms. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** How long an invocation may take before the connection is considered dead (ms, default 15000). */
  invokeTimeout?: number;
}

export interface Session {
  sessionId: string;
  userId: string;
  username: string;
  role: string;
  serverTime: string;
  nodeId: string;
  sessionTtlSeconds: number;
  heartbeatIntervalSeconds: number;
}

export interface PresenceUser {
  userId: string;
  username: string;
  role: string;
  mode: JoinMode;
  joinedAt: string;
  sessionId: string;
}

export interface LockView {
  lockId: string;
  resourceId: string;
  holder: { userId: string; username: string };
  acquiredAt: string;
  expiresAt: string;
  fencingToken: number;
  ttlSeconds: number;
}

export interface LockDenied {
  code: string;
  message: string;
  holder?: { userId: string; username: string } | null;
  expiresAt?: string | null;
}

export interface AllUsers {
  parentResourceId: string;
  totalCount: number;
  subResources: { subResourceId: string; users: PresenceUser[] }[];
}

export interface ApiResponse<T = any> {
  success: boolean;
  requestId?: string;
  data?: T;
  error?: { code: string; message: string; details?: any };
  newRevision?: number;
  timestamp: string;
}

interface ApiBroadcast<T = any> {
  event: string;
  resourceId: string;
  payload: T;
  triggeredBy?: { userId: string; username: string; action: string } | null;
  newRevision: number;
  timestamp: string;
}

export type ProviderStatus = 'disconnected' | 'connecting' | 'connected';

class TimeoutError extends Error {}

/** Local updates within this window are merged into one doc:update (keeps typing under the rate limit). */
const FLUSH_MS = 20;

export class CollabProvider extends Emitter {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  readonly resourceId: string;
  /** y-websocket name for the room. */
  readonly roomname: string;
  readonly serverUrl: string;

  /** True while the hub connection is up and the resource joined. */
  wsconnected = false;
  wsconnecting = false;
  shouldConnect = false;
  /** The browser reports no network (navigator.onLine / offline event). */
  browserOffline = typeof navigator !== 'undefined' && navigator.onLine === false;

  session: Session | null = null;
  /** Mode granted by the server (editor only while we hold a lock). */
  mode: JoinMode = 'viewer';
  readonly requestedMode: JoinMode;
  modeReason: string | null = null;
  lock: LockView | null = null;
  locks: LockView[] = [];
  lockDenied: LockDenied | null = null;
  users: PresenceUser[] = [];
  allUsers: AllUsers | null = null;
  revision = 0;
  lastError: { code: string; message: string } | null = null;

  private _synced = false;
  private _unsent = false;
  private _inFlight = 0;
  private readonly _opts: Required<Pick<ProviderOptions, 'hubPath' | 'transport' | 'autoAcquire' | 'minReconnectDelay' | 'maxReconnectDelay' | 'invokeTimeout'>> & ProviderOptions;
  private _connection: HubConnection | null = null;
  private _attempt = 0;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private _lockTimer: ReturnType<typeof setInterval> | null = null;
  private _runId = 0;
  private _outbox: Uint8Array[] = [];
  private _flushTimer: ReturnType<typeof setTimeout> | null = null;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _retries = 0;
  private _destroyed = false;
  private _acquiring = false;
  private readonly _onDocUpdate: (update: Uint8Array, origin: unknown) => void;
  private readonly _onAwarenessUpdate: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void;
  private readonly _onOnline: () => void;
  private readonly _onOffline: () => void;
  private readonly _onPageHide: () => void;
  private readonly _onPageShow: (e: PageTransitionEvent) => void;

  constructor(serverUrl: string, resourceId: string, doc: Y.Doc, options: ProviderOptions = {}) {
    super();
    this.serverUrl = serverUrl.replace(/\/+$/, '');
    this.resourceId = resourceId;
    this.roomname = resourceId;
    this.doc = doc;
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(doc);
    this.requestedMode = options.mode ?? 'editor';
    this._opts = {
      hubPath: '/hubs/collab',
      transport: 'websockets',
      autoAcquire: true,
      minReconnectDelay: 250,
      maxReconnectDelay: 15000,
      invokeTimeout: 15000,
      ...definedOnly(options),
    };

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

    this._onAwarenessUpdate = ({ added, updated, removed }, origin) => {
      if (origin === this) return;
      const mine = added.concat(updated, removed).filter((c) => c === doc.clientID);
      if (mine.length > 0) this._sendAwareness(mine);
    };
    this.awareness.on('update', this._onAwarenessUpdate);

    this._onOnline = () => {
      this.browserOffline = false;
      this.emit('network', [true]);
      if (this.shouldConnect && !this.wsconnected && !this.wsconnecting) this._connectNow();
    };
    this._onOffline = () => {
      this.browserOffline = true;
      this.emit('network', [false]);
      // Sockets often survive a lost network for a while; do not wait for a timeout to find out.
      if (this._connection) void this._drop('offline');
    };
    this._onPageHide = () => this._leaveNow();
    this._onPageShow = (e: PageTransitionEvent) => {
      // Back from the back/forward cache: we left on pagehide, so join again.
      if (e.persisted && this.shouldConnect && !this.wsconnected && !this.wsconnecting) this._connectNow();
    };
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this._onOnline);
      window.addEventListener('offline', this._onOffline);
      window.addEventListener('pagehide', this._onPageHide);
      window.addEventListener('pageshow', this._onPageShow);
    }

    if (options.connect !== false) this.connect();
  }

  // ---- y-websocket surface ----------------------------------------------------------------------

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

  get status(): ProviderStatus {
    return this.wsconnected ? 'connected' : this.wsconnecting ? 'connecting' : 'disconnected';
  }

  /** Editing is allowed locally: as editor, or offline after having been one (edits are merged later). */
  get canSend(): boolean {
    return this.wsconnected && this._synced && this.mode === 'editor';
  }

  connect(): void {
    if (this._destroyed) return;
    this.shouldConnect = true;
    if (!this.wsconnected && !this.wsconnecting) this._connectNow();
  }

  disconnect(): void {
    this.shouldConnect = false;
    this._clearReconnect();
    this._leaveNow();
  }

  destroy(): void {
    if (this._destroyed) return;
    this.disconnect();
    this._destroyed = true;
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    this.doc.off('update', this._onDocUpdate);
    this.awareness.off('update', this._onAwarenessUpdate);
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._onOnline);
      window.removeEventListener('offline', this._onOffline);
      window.removeEventListener('pagehide', this._onPageHide);
      window.removeEventListener('pageshow', this._onPageShow);
    }
    this.emit('destroy', []);
    this.removeAllListeners();
  }

  // ---- locks ------------------------------------------------------------------------------------

  /** Asks for the editing lock (e.g. after it was released). Resolves with the server's answer. */
  async acquireLock(): Promise<ApiResponse<LockView>> {
    const r = await this.invoke<LockView>('lock:acquire', { resourceId: this.resourceId });
    if (r.success && r.data) {
      this._setOwnLock(r.data);
      // Anything typed while we were a viewer (offline) goes out now.
      if (this._unsent) void this._resync();
    } else if (r.error) {
      this.emit('lock-denied', [{ code: r.error.code, message: r.error.message, holder: r.error.details?.holder, expiresAt: r.error.details?.expiresAt }]);
    }
    return r;
  }

  async releaseLock(): Promise<ApiResponse> {
    const r = await this.invoke('lock:release', { resourceId: this.resourceId });
    if (r.success) this._setOwnLock(null);
    return r;
  }

  /** Invokes a hub method with one JSON argument; never throws, failures come back as ApiResponse. */
  async invoke<T = any>(method: string, body: Record<string, unknown> = {}): Promise<ApiResponse<T>> {
    const connection = this._connection;
    const id = requestId();
    if (!connection || connection.state !== 'Connected') {
      return { success: false, requestId: id, error: { code: 'UNAVAILABLE', message: 'Not connected.' }, timestamp: new Date().toISOString() };
    }
    try {
      return await withTimeout(connection.invoke<ApiResponse<T>>(method, { ...body, requestId: id }), this._opts.invokeTimeout);
    } catch (err) {
      if (err instanceof TimeoutError && this._connection === connection) {
        void this._drop('timeout');
      }
      return { success: false, requestId: id, error: { code: 'UNAVAILABLE', message: String((err as Error)?.message ?? err) }, timestamp: new Date().toISOString() };
    }
  }

  // ---- connection ------------------------------------------------------------------------------

  private async _token(): Promise<string> {
    if (this._opts.tokenProvider) return await this._opts.tokenProvider();
    return this._opts.token ?? '';
  }

  private _build(): HubConnection {
    const url = this.serverUrl + this._opts.hubPath;
    const websockets = this._opts.transport === 'websockets';
    const connection = new HubConnectionBuilder()
      .withUrl(url, {
        accessTokenFactory: () => this._token(),
        ...(websockets ? { skipNegotiation: true, transport: HttpTransportType.WebSockets } : {}),
      })
      .configureLogging(LogLevel.None)
      .build();
    connection.serverTimeoutInMilliseconds = 30000;
    connection.keepAliveIntervalInMilliseconds = 10000;

    const mine = (b: ApiBroadcast) => b && b.resourceId === this.resourceId;
    connection.on('connected', (s: Session) => {
      this.session = s;
      this.emit('session', [s]);
    });
    connection.on('error', (e: { code: string; message: string }) => this._error(e.code, e.message));
    connection.on('doc:update', (b: ApiBroadcast<{ update: string }>) => {
      if (!mine(b)) return;
      if (b.newRevision) this.revision = b.newRevision;
      Y.applyUpdate(this.doc, fromBase64(b.payload.update), this);
      this.emit('remote-update', [b.triggeredBy]);
    });
    connection.on('awareness:update', (b: ApiBroadcast<{ update: string }>) => {
      if (!mine(b)) return;
      awarenessProtocol.applyAwarenessUpdate(this.awareness, fromBase64(b.payload.update), this);
    });
    connection.on('user:joined', (b: ApiBroadcast<{ user: PresenceUser }>) => {
      if (!mine(b)) return;
      this.users = this.users.filter((u) => u.sessionId !== b.payload.user.sessionId).concat([b.payload.user]);
      this.emit('users', [this.users]);
      // The server relays awareness but keeps no copy: tell the newcomer where we are.
      this._sendAwareness([this.doc.clientID]);
    });
    connection.on('user:left', (b: ApiBroadcast<{ user: PresenceUser }>) => {
      if (!mine(b)) return;
      this.users = this.users.filter((u) => u.sessionId !== b.payload.user.sessionId);
      this.emit('users', [this.users]);
    });
    connection.on('resource:all_users', (b: ApiBroadcast<AllUsers>) => {
      this.allUsers = b.payload;
      // The entry of our own resource is the freshest list of its members, modes included.
      const own = b.payload.subResources.find((g) => g.subResourceId === this.resourceId);
      if (own) this.users = own.users;
      this.emit('all-users', [b.payload]);
      this.emit('users', [this.users]);
    });
    const upsertLock = (b: ApiBroadcast<LockView>) => {
      if (!mine(b)) return;
      this.locks = this.locks.filter((l) => l.lockId !== b.payload.lockId).concat([b.payload]);
      if (this.lock && this.lock.lockId === b.payload.lockId) this.lock = b.payload;
      this._syncModes();
      this.emit('locks', [this.locks]);
    };
    connection.on('lock:acquired', upsertLock);
    connection.on('lock:renewed', upsertLock);
    const endLock = (b: ApiBroadcast<{ lockId: string; reason: string }>) => {
      if (!mine(b)) return;
      this.locks = this.locks.filter((l) => l.lockId !== b.payload.lockId);
      const wasMine = this.lock?.lockId === b.payload.lockId;
      if (wasMine) {
        this._setOwnLock(null);
        this.emit('lock-lost', [b.payload.reason, b.event]);
      } else {
        this._syncModes();
        this.emit('locks', [this.locks]);
        this._maybeAcquire();
      }
    };
    connection.on('lock:released', endLock);
    connection.on('lock:expired', endLock);
    connection.on('state:changed', (b: ApiBroadcast) => {
      if (mine(b)) this.emit('state', [b.payload]);
    });
    connection.on('resource:updated', (b: ApiBroadcast) => {
      if (mine(b)) this.emit('resource-updated', [b.payload]);
    });
    connection.onclose((err) => {
      if (this._connection === connection) void this._drop(err ? 'closed' : 'stopped');
    });
    return connection;
  }

  private _connectNow(): void {
    this._clearReconnect();
    if (this.browserOffline) {
      this.emit('status', [{ status: 'disconnected' }]);
      return; // the online event brings us back
    }
    const run = ++this._runId;
    this.wsconnecting = true;
    this.emit('status', [{ status: 'connecting' }]);
    void this._start(run);
  }

  private async _start(run: number): Promise<void> {
    const connection = this._build();
    this._connection = connection;
    try {
      await connection.start();
      if (run !== this._runId) return;
      const joined = await this.invoke<any>('resource:join', { resourceId: this.resourceId, mode: this.requestedMode });
      if (run !== this._runId) return;
      if (!joined.success) {
        const code = joined.error?.code ?? 'UNAVAILABLE';
        this._error(code, joined.error?.message ?? 'Join failed.');
        // A refusal that will not change by retrying stops here; everything else retries.
        if (code === 'VALIDATION_FAILED' || code === 'PERMISSION_DENIED') {
          this.shouldConnect = false;
        }
        throw new Error(joined.error?.message ?? 'join failed');
      }
      this._applyJoin(joined.data);
      this.wsconnecting = false;
      this.wsconnected = true;
      this._attempt = 0;
      this.emit('status', [{ status: 'connected' }]);
      this._startHeartbeats();
      await this._resync();
      if (run !== this._runId) return;
      this._sendAwareness([this.doc.clientID]);
    } catch (err) {
      if (run !== this._runId) return;
      const status = (err as { statusCode?: number })?.statusCode;
      if (status === 401) this._error('UNAUTHORIZED', 'The token was refused; check it or pass a tokenProvider.');
      this.emit('connection-error', [err]);
      await this._drop('start-failed');
    }
  }

  private _applyJoin(data: any): void {
    this.mode = data.mode;
    this.modeReason = data.modeReason ?? null;
    this.users = data.users ?? [];
    this.locks = data.locks ?? [];
    this.revision = data.revision ?? 0;
    this.lockDenied = data.lockDenied ?? null;
    this.lock = data.lock ?? null;
    this.emit('joined', [data]);
    this.emit('users', [this.users]);
    this.emit('locks', [this.locks]);
    if (this.lockDenied) this.emit('lock-denied', [this.lockDenied]);
  }

  /** doc:sync: fetch what we lack, then push what the server lacks (when we may). */
  private async _resync(): Promise<void> {
    const run = this._runId;
    const r = await this.invoke<{ update: string; stateVector: string; revision: number }>('doc:sync', {
      resourceId: this.resourceId,
      stateVector: toBase64(Y.encodeStateVector(this.doc)),
    });
    if (run !== this._runId || !this.wsconnected) return;
    if (!r.success || !r.data) {
      this._error(r.error?.code ?? 'UNAVAILABLE', r.error?.message ?? 'doc:sync failed');
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

  private _flush(): void {
    this._flushTimer = null;
    const batch = this._outbox.splice(0);
    if (batch.length === 0) return;
    const run = this._runId;
    const update = batch.length === 1 ? batch[0] : Y.mergeUpdates(batch);
    void this.invoke('doc:update', { resourceId: this.resourceId, update: toBase64(update) }).then((r) => {
      if (run !== this._runId) return; // the connection was dropped meanwhile; the next sync carries it
      this._inFlight--;
      if (r.success) {
        if (r.newRevision) this.revision = r.newRevision;
        this._retries = 0;
      } else {
        // Not lost: the update stays in the doc and the next sync carries it.
        this._setUnsent(true);
        const code = r.error?.code ?? 'UNAVAILABLE';
        if (code !== 'UNAVAILABLE' && code !== 'RATE_LIMITED') this._error(code, r.error?.message ?? '');
        if (code !== 'PERMISSION_DENIED' && code !== 'NOT_JOINED') this._scheduleRetry();
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

  private _checkIdle(): void {
    if (!this.hasUnsentChanges) this.emit('saved', []);
    this.emit('pending', [this.hasUnsentChanges]);
  }

  /** Marks local edits as waiting for the next sync (e.g. restored from the offline cache). */
  markUnsent(): void {
    this._setUnsent(true);
  }

  private _setUnsent(value: boolean): void {
    if (this._unsent !== value) {
      this._unsent = value;
      this.emit('pending', [this.hasUnsentChanges]);
    }
  }

  private _sendAwareness(clients: number[]): void {
    if (!this.wsconnected || !this._connection) return;
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
    // Fire and forget: awareness is ephemeral and the answer carries nothing we need.
    this._connection.send('awareness:update', { resourceId: this.resourceId, update: toBase64(update) }).catch(() => {});
  }

  private _setOwnLock(lock: LockView | null): void {
    this.lock = lock;
    if (lock) {
      this.locks = this.locks.filter((l) => l.lockId !== lock.lockId).concat([lock]);
      this.mode = 'editor';
      this.lockDenied = null;
    } else {
      this.mode = 'viewer';
    }
    this._startLockHeartbeat();
    this.emit('locks', [this.locks]);
    this.emit('lock', [lock]);
  }

  private _syncModes(): void {
    // Reflect the lock holders in the member list (the server sends modes on join only).
    const holders = new Set(this.locks.map((l) => l.holder.userId));
    this.users = this.users.map((u) => ({ ...u, mode: holders.has(u.userId) ? 'editor' : 'viewer' }) as PresenceUser);
    this.emit('users', [this.users]);
  }

  private _maybeAcquire(): void {
    if (!this._opts.autoAcquire || this.requestedMode !== 'editor' || this.lock || this._acquiring || !this.wsconnected) return;
    if (this.modeReason && /may not edit/.test(this.modeReason)) return; // our role cannot edit here
    this._acquiring = true;
    void this.acquireLock().finally(() => {
      this._acquiring = false;
    });
  }

  private _startHeartbeats(): void {
    this._stopHeartbeats();
    const seconds = this.session?.heartbeatIntervalSeconds || 30;
    this._heartbeatTimer = setInterval(() => {
      void this.invoke('heartbeat', {});
    }, Math.max(5, seconds) * 1000);
    this._startLockHeartbeat();
  }

  private _startLockHeartbeat(): void {
    if (this._lockTimer) clearInterval(this._lockTimer);
    this._lockTimer = null;
    if (!this.lock || !this.wsconnected) return;
    // Renew well inside the TTL: a quarter of it, at most the default heartbeat interval of 60 s.
    const every = Math.max(2, Math.min(60, (this.lock.ttlSeconds || 300) / 4)) * 1000;
    this._lockTimer = setInterval(async () => {
      const r = await this.invoke<LockView>('lock:heartbeat', { resourceId: this.resourceId });
      if (r.success && r.data) {
        this.lock = r.data;
        this.locks = this.locks.filter((l) => l.lockId !== r.data!.lockId).concat([r.data]);
        this.emit('locks', [this.locks]);
        this.emit('lock', [this.lock]);
      } else if (r.error && r.error.code === 'LOCK_NOT_HELD') {
        this._setOwnLock(null);
        this.emit('lock-lost', ['not_held', 'lock:heartbeat']);
      }
    }, every);
  }

  private _stopHeartbeats(): void {
    if (this._heartbeatTimer) clearInterval(this._heartbeatTimer);
    if (this._lockTimer) clearInterval(this._lockTimer);
    this._heartbeatTimer = this._lockTimer = null;
  }

  /** Tears the connection down and schedules a reconnect when we still want to be connected. */
  private async _drop(reason: string): Promise<void> {
    const connection = this._connection;
    this._connection = null;
    this._runId++;
    const was = this.wsconnected || this.wsconnecting;
    this.wsconnected = false;
    this.wsconnecting = false;
    this.synced = false;
    // Unacknowledged or queued updates are re-sent by the next sync: mark them.
    if (this._inFlight > 0 || this._outbox.length > 0) this._setUnsent(true);
    this._inFlight = 0;
    this._outbox = [];
    if (this._flushTimer) clearTimeout(this._flushTimer);
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._flushTimer = this._retryTimer = null;
    this._stopHeartbeats();
    const others = Array.from(this.awareness.getStates().keys()).filter((c) => c !== this.doc.clientID);
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    if (connection) connection.stop().catch(() => {});
    if (was) {
      this.emit('status', [{ status: 'disconnected' }]);
      this.emit('connection-close', [reason]);
    }
    if (this.shouldConnect && !this._destroyed) this._scheduleReconnect();
  }

  private _scheduleReconnect(): void {
    this._clearReconnect();
    if (this.browserOffline) return;
    const { minReconnectDelay: min, maxReconnectDelay: max } = this._opts;
    const delay = Math.min(max, min * 2 ** this._attempt) * (0.8 + Math.random() * 0.4);
    this._attempt++;
    this.emit('reconnecting', [Math.round(delay)]);
    this._reconnectTimer = setTimeout(() => this._connectNow(), delay);
  }

  private _clearReconnect(): void {
    if (this._reconnectTimer) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  /** Leaving gives the lock up at once (no grace period); used on disconnect() and page close. */
  private _leaveNow(): void {
    const connection = this._connection;
    if (connection && connection.state === 'Connected' && this.wsconnected) {
      const queued = this._outbox.splice(0);
      if (queued.length > 0) {
        const update = queued.length === 1 ? queued[0] : Y.mergeUpdates(queued);
        connection.send('doc:update', { resourceId: this.resourceId, update: toBase64(update), requestId: requestId() }).catch(() => {});
      }
      connection.send('resource:leave', { resourceId: this.resourceId, requestId: requestId() }).catch(() => {});
    }
    if (connection) {
      this._connection = null;
      this._runId++;
      // Whatever was not acknowledged is sent again by the next sync.
      if (this._inFlight > 0) this._setUnsent(true);
      this._inFlight = 0;
      if (this._flushTimer) clearTimeout(this._flushTimer);
      this._flushTimer = null;
      this.wsconnected = false;
      this.wsconnecting = false;
      this.synced = false;
      this._stopHeartbeats();
      connection.stop().catch(() => {});
      this.emit('status', [{ status: 'disconnected' }]);
    }
  }

  private _error(code: string, message: string): void {
    this.lastError = { code, message };
    this.emit('error', [{ code, message }]);
  }
}

/** The options that were given a value (an explicit undefined must not override a default). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`No answer within ${ms} ms.`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
