// The connection half of CollabProvider: one hub connection per provider, restarted by us rather than by
// SignalR's reconnect so that a failed first start, a dead socket and the browser going offline all take
// the same path:
//
//   disconnected --connect()--> connecting --start+join+doc:sync--> connected (synced)
//        ^                          |  failure: backoff 0.25 s .. 15 s with jitter          |
//        +------ close / offline ---+<------------------------------------------------------+
//
// Every (re)connect is one "run" (_runId): answers that arrive after their run ended are ignored. The
// layers above (sync.ts, presence.ts, locks.ts) plug in through the hooks at the end of this class.
// Tokens (token.ts): the tokenProvider is asked on every (re)connect and shortly before the token expires;
// a newer token moves us to a new connection at once ('token-refresh'), the way a dropped one comes back.
import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { Emitter } from '../emitter';
import { requestId } from '../util';
import { ErrorCodes } from './codes';
import { fullSignalRHub, HubSocket, type Hub } from './hub';
import { TokenSource } from './token';
import type { ApiBroadcast, ApiResponse, HubMethod, JoinMode, JoinResult, ProviderOptions, ProviderStatus, ResolvedOptions, Session } from './types';

class TimeoutError extends Error {}

export type { Hub };

export abstract class ProviderConnection extends Emitter {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  readonly resourceId: string;
  /** y-websocket name for the room. */
  readonly roomname: string;
  readonly serverUrl: string;
  readonly requestedMode: JoinMode;

  /** True while the hub connection is up and the resource joined. */
  wsconnected = false;
  wsconnecting = false;
  shouldConnect = false;
  /** The browser reports no network (navigator.onLine / offline event). */
  browserOffline = typeof navigator !== 'undefined' && navigator.onLine === false;
  session: Session | null = null;
  revision = 0;
  lastError: { code: string; message: string } | null = null;
  /** True from a planned move to a new connection with a newer token until that connection is up (not "offline"). */
  refreshingToken = false;

  protected readonly _opts: ResolvedOptions;
  protected _connection: Hub | null = null;
  /** Increments whenever a connection ends: work started under an older run is stale. */
  protected _runId = 0;
  protected _destroyed = false;
  private _attempt = 0;
  private readonly _extraHandlers: [string, (b: ApiBroadcast) => void][] = [];
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _tokenTimer: ReturnType<typeof setTimeout> | null = null;
  /** The token of the current connection, and where the next one comes from. */
  readonly tokens: TokenSource;
  /** From `connection:closing`: reconnect after this many ms instead of the backoff (graceful leave, rolling restart). */
  private _reconnectHint: number | null = null;
  private readonly _onOnline: () => void;
  private readonly _onOffline: () => void;
  private readonly _onPageHide: () => void;
  private readonly _onPageShow: (e: PageTransitionEvent) => void;

  constructor(serverUrl: string, resourceId: string, doc: Y.Doc, options: ProviderOptions) {
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
    this.tokens = new TokenSource(options.token, options.tokenProvider);

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
  }

  get status(): ProviderStatus {
    return this.wsconnected ? 'connected' : this.wsconnecting ? 'connecting' : 'disconnected';
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
    this._onDestroy();
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._onOnline);
      window.removeEventListener('offline', this._onOffline);
      window.removeEventListener('pagehide', this._onPageHide);
      window.removeEventListener('pageshow', this._onPageShow);
    }
    this.emit('destroy', []);
    this.removeAllListeners();
  }

  /** Invokes a hub method with one JSON argument; never throws, failures come back as ApiResponse. */
  async invoke<T = any>(method: HubMethod, body: Record<string, unknown> = {}): Promise<ApiResponse<T>> {
    const connection = this._connection;
    const id = requestId();
    if (!connection || connection.state !== 'Connected') {
      return { success: false, requestId: id, error: { code: ErrorCodes.Unavailable, message: 'Not connected.' }, timestamp: new Date().toISOString() };
    }
    try {
      return await withTimeout(connection.invoke<ApiResponse<T>>(method, { ...body, requestId: id }), this._opts.invokeTimeout);
    } catch (err) {
      if (err instanceof TimeoutError && this._connection === connection) {
        void this._drop('timeout');
      }
      return { success: false, requestId: id, error: { code: ErrorCodes.Unavailable, message: String((err as Error)?.message ?? err) }, timestamp: new Date().toISOString() };
    }
  }

  /** Subscribes to a hub event on this and every later connection (for parts loaded later, e.g. chunks). */
  onHubEvent(event: string, handler: (b: ApiBroadcast) => void): () => void {
    const entry: [string, (b: ApiBroadcast) => void] = [event, (b) => this._extraHandlers.includes(entry) && handler(b)];
    this._extraHandlers.push(entry);
    this._connection?.on(event, entry[1]);
    return () => {
      const i = this._extraHandlers.indexOf(entry);
      if (i >= 0) this._extraHandlers.splice(i, 1);
    };
  }

  /** Sends a hub method without waiting for its answer (awareness, leaving). */
  protected _send(method: HubMethod, body: Record<string, unknown>): void {
    const connection = this._connection;
    if (connection && connection.state === 'Connected') connection.send(method, body).catch(() => {});
  }

  /** Whether a broadcast is about our resource. */
  protected _mine(b: ApiBroadcast): boolean {
    return !!b && b.resourceId === this.resourceId;
  }

  private _token(): Promise<string> {
    return this.tokens.next();
  }

  /** While connected: ask for a newer token shortly before this one expires, and move to a new connection with it. */
  private _scheduleTokenRefresh(run: number): void {
    this._clearTokenTimer();
    const delay = this.tokens.refreshIn();
    if (delay === null) return;
    this._tokenTimer = setTimeout(async () => {
      this._tokenTimer = null;
      let newer: string | null = null;
      try {
        newer = await this.tokens.newer();
      } catch {
        // the host could not give one now: the server closes at expiry and the reconnect asks again
      }
      if (run !== this._runId || !newer || !this.wsconnected) return;
      await this._drop('token-refresh');
      if (this.shouldConnect && !this._destroyed) this._connectNow(); // at once, not after the backoff
    }, Math.min(delay, 2 ** 31 - 1));
  }

  private _clearTokenTimer(): void {
    if (this._tokenTimer) clearTimeout(this._tokenTimer);
    this._tokenTimer = null;
  }

  /** A new hub connection with every layer's events subscribed (not started). */
  private async _build(): Promise<Hub> {
    const url = this.serverUrl + this._opts.hubPath;
    const hubOptions = { accessTokenFactory: () => this._token(), serverTimeoutMs: 30000, keepAliveMs: 10000 };
    const connection = this._opts.transport === 'websockets' ? new HubSocket(url, hubOptions) : await fullSignalRHub(url, hubOptions, this.serverUrl);
    connection.on('connected', (s: Session) => {
      this.session = s;
      this.emit('session', [s]);
    });
    connection.on('error', (e: { code: string; message: string }) => this._error(e.code, e.message));
    // The node is leaving (SIGTERM, rolling restart): go at once, a load balancer sends us to another node; unsent
    // edits stay flagged and go out with the next sync.
    connection.on('connection:closing', (c: { reason: string; reconnectAfterMs: number }) => {
      if (this._connection !== connection) return;
      this._reconnectHint = Math.max(0, Math.min(this._opts.maxReconnectDelay, Number(c?.reconnectAfterMs) || 0));
      void this._drop(c?.reason ?? 'closing');
    });
    connection.on('state:changed', (b: ApiBroadcast) => {
      if (this._mine(b)) this.emit('state', [b.payload]);
    });
    connection.on('resource:updated', (b: ApiBroadcast) => {
      if (this._mine(b)) this.emit('resource-updated', [b.payload]);
    });
    // A reload of resources.yml took our canView away: the server removed this connection from the resource (a
    // user:left about our own session). Joining again would be refused: say so once and stop.
    connection.on('user:left', (b: ApiBroadcast<{ user?: { sessionId?: string }; reason?: string }>) => {
      if (this._connection !== connection || !this._mine(b) || b.payload?.reason !== 'permission_revoked') return;
      if (!this.session || b.payload.user?.sessionId !== this.session.sessionId) return;
      this.shouldConnect = false;
      this._error(ErrorCodes.PermissionDenied, 'Your access to this record was removed; changes here are no longer saved.');
      void this._drop('permission_revoked');
    });
    this._wire(connection);
    connection.onclose((err) => {
      if (this._connection === connection) void this._drop(err ? 'closed' : 'stopped');
    });
    return connection;
  }

  protected _connectNow(): void {
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
    try {
      const connection = await this._build();
      if (run !== this._runId) return;
      this._connection = connection;
      for (const [event, handler] of this._extraHandlers) connection.on(event, handler);
      await connection.start();
      if (run !== this._runId) return;
      const joined = await this.invoke<JoinResult>('resource:join', { resourceId: this.resourceId, mode: this.requestedMode });
      if (run !== this._runId) return;
      if (!joined.success || !joined.data) {
        const code = joined.error?.code ?? ErrorCodes.Unavailable;
        this._error(code, joined.error?.message ?? 'Join failed.');
        // A refusal that will not change by retrying stops here; everything else retries.
        if (code === ErrorCodes.ValidationFailed || code === ErrorCodes.PermissionDenied) this.shouldConnect = false;
        throw new Error(`resource:join refused: ${code}`);
      }
      this._onJoined(joined.data);
      this.wsconnecting = false;
      this.wsconnected = true;
      this._attempt = 0;
      this.refreshingToken = false;
      this._scheduleTokenRefresh(run);
      this.emit('status', [{ status: 'connected' }]);
      await this._afterJoin(run);
    } catch (err) {
      if (run !== this._runId) return;
      const status = (err as { statusCode?: number })?.statusCode;
      if (status === 401) this._error(ErrorCodes.Unauthorized, 'The token was refused; check it or pass a tokenProvider.');
      this.emit('connection-error', [err]);
      await this._drop('start-failed');
    }
  }

  /** Tears the connection down and schedules a reconnect when we still want to be connected. */
  protected async _drop(reason: string): Promise<void> {
    const connection = this._connection;
    this._connection = null;
    this._runId++;
    this.refreshingToken = reason === 'token-refresh';
    const was = this.wsconnected || this.wsconnecting;
    this.wsconnected = false;
    this.wsconnecting = false;
    this._clearTokenTimer();
    this._onDown(false);
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
    const hint = this._reconnectHint;
    this._reconnectHint = null;
    const delay = hint ?? Math.min(max, min * 2 ** this._attempt) * (0.8 + Math.random() * 0.4);
    if (hint === null) this._attempt++;
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
      this._beforeLeave();
      this._send('resource:leave', { resourceId: this.resourceId, requestId: requestId() });
    }
    if (connection) {
      this._connection = null;
      this._runId++;
      this.wsconnected = false;
      this.wsconnecting = false;
      this._clearTokenTimer();
      this._onDown(true);
      connection.stop().catch(() => {});
      this.emit('status', [{ status: 'disconnected' }]);
    }
  }

  protected _error(code: string, message: string): void {
    this.lastError = { code, message };
    this.emit('error', [{ code, message }]);
  }

  // ---- hooks for the layers above -----------------------------------------------------------------

  /** Subscribes the layer's events on a new connection. */
  protected abstract _wire(connection: Hub): void;
  /** The join answer: presence, locks, revision. */
  protected abstract _onJoined(data: JoinResult): void;
  /** Joined and connected: sync the document, announce ourselves. */
  protected abstract _afterJoin(run: number): Promise<void>;
  /** About to send resource:leave on a live connection: last chance to send queued edits. */
  protected abstract _beforeLeave(): void;
  /** The connection ended (left: by our own leave, else a drop): stop timers, mark what was not acknowledged. */
  protected abstract _onDown(left: boolean): void;
  protected abstract _onDestroy(): void;
}

/** The options that were given a value (an explicit undefined must not override a default). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
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
