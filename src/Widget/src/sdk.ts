// CollabSDK.init(): makes an existing page collaborative without touching its markup.
//
//   page fields --discovery/MutationObserver--> FieldBinding (DOM <-> Y.Text) --Y.Doc--> CollabProvider --hub--> node
//                                                                 |                          |
//                                              encrypted IndexedDB cache of unsent edits     +-- presence, locks, awareness --> CollabUI
//
// Field states (what the user sees and may do):
//   own-lock  green outline, yellow lock badge "You", editable      locked   red, read-only, lock badge "<holder> until HH:MM"
//   readonly  grey, read-only (viewer role, or no lock)              offline  orange; editable if we were (or meant to be) an editor
//   connecting dashed grey, read-only until the first join answers (or fails, which means offline)
// (view.ts derives those states and the panel's lines from the provider; routing.ts follows in-page navigation.)
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { FieldBinding } from './binding';
import { assignIds, findFields, isCollaborative, type CollabField } from './discovery';
import { Emitter } from './emitter';
import { OfflineStore } from './offline-store';
import type { Handover, HandoverHost } from './chunks/handover';
import { loadChunk } from './chunks';
import { CollabProvider, type ApiBroadcast, type JoinMode, type LockView, type PresenceUser, type ResourceUpdatedPayload, type TriggeredBy } from './provider/provider';
import { watchLocation } from './routing';
import { CollabUI, type FieldView } from './ui';
import { colorFor, deriveResourceId, hhmm, jwtClaims } from './util';
import { fieldState, focusAvatars, lockLine, panelUsers, statusLine, statusOf, type InstanceStatus } from './view';

export interface InitOptions {
  /** Base URL of a CollabAkka node, e.g. https://collab.example (the hub is at /hubs/collab). */
  gatewayUrl: string;
  /** A JWT; fixed for the page's life (when it expires the server closes the connection: prefer tokenProvider). */
  token?: string;
  /**
   * Returns a current JWT (e.g. from the host's session). Asked for the first connection, on every reconnect,
   * and shortly before the current token expires (at 80% of its lifetime, at most 60 s before): a different token
   * moves the widget to a new connection at once, the same one is kept until the server closes the connection
   * at expiry, and the reconnect asks again. Unsent edits (typed meanwhile, or not acknowledged) are kept
   * (also in the offline cache) and sent with the resync.
   */
  tokenProvider?: () => string | Promise<string>;
  /**
   * Default: derived from the page URL (see deriveResourceId), and followed when the page changes its URL
   * without reloading (history.pushState/replaceState, popstate, hash routes). A function is asked again on
   * each such change; a string stays fixed (call setResource() to move).
   */
  resourceId?: string | (() => string);
  /** Bind text inputs and textareas automatically, including ones added later (default true). */
  autoDiscovery?: boolean;
  /** 'editor' (default) takes the lock when free; 'viewer' only watches. */
  mode?: JoinMode;
  onError?: (error: { code: string; message: string }) => void;
  /** Show the presence panel (default true). */
  panel?: boolean;
  /** Keep unsent edits in an encrypted IndexedDB cache (default true). */
  offlineCache?: boolean;
  /**
   * Lock hand-over requests (issue 15 §1): "Request edit" on locked fields and the holder's prompt. Off by
   * default until the server offers lock:request and lock:request-answer.
   */
  lockRequests?: boolean;
  /**
   * When an external system (EMR, PACS) changes the resource (resource:updated, docs/INTEGRATION.md), show a small
   * notice "Updated in <source> by <who>" next to the fields (default true). Also off for fields inside an element
   * with data-collab-update-notice="off" (e.g. on <body>). The resourceUpdated event is raised either way.
   */
  updateNotice?: boolean;
  /** Passed to the provider. */
  transport?: 'websockets' | 'auto';
  hubPath?: string;
}

export type { InstanceStatus };

/** The resourceUpdated event: an external system changed this resource (or its root). */
export interface ResourceUpdatedEvent {
  /** The resource the system named: ours, or our root (a root's update reaches its whole family). */
  resourceId: string;
  resourceType: string;
  /** created, updated, deleted or signed. */
  action: string;
  /** The system (the webhook source); triggeredBy.username is how the server names it. */
  source: string;
  triggeredBy: TriggeredBy;
  /** When the change happened, as the system said (ISO 8601). */
  timestamp: string;
  deliveryId: string;
  /** Whatever the system sent (untrusted: never render it as HTML). */
  data?: unknown;
}

export const instances: CollabInstance[] = [];

export class CollabInstance {
  /** The document, awareness and provider of the current resource (new ones after a route change). */
  doc!: Y.Doc;
  awareness!: awarenessProtocol.Awareness;
  provider!: CollabProvider;
  resourceId: string;
  readonly events = new Emitter();
  /** Bound fields by stable id. */
  readonly fields = new Map<string, FieldBinding>();
  readonly metrics: { initAt: number; connectedMs: number | null; syncedMs: number | null } = {
    initAt: performance.now(),
    connectedMs: null,
    syncedMs: null,
  };
  status: InstanceStatus = 'connecting';
  /** Offline cache: 'off' | 'none' (nothing unsent stored) | 'saved' | 'restored'. */
  cacheState: 'off' | 'none' | 'saved' | 'restored' = 'none';
  /** Whether this page started from unsent edits kept by an earlier page (e.g. before a reload). */
  restoredFromCache = false;

  private readonly _opts: InitOptions;
  private readonly _ui: CollabUI | null;
  private _store: OfflineStore | null = null;
  private _storeReady: Promise<void> = Promise.resolve();
  private readonly _byElement = new Map<CollabField, FieldBinding>();
  private _observer: MutationObserver | null = null;
  private _resizeObserver: ResizeObserver | null = null;
  private _layoutFrame = 0;
  private _layoutTimer: ReturnType<typeof setInterval> | null = null;
  private _saveTimer: ReturnType<typeof setTimeout> | null = null;
  private _everJoined = false;
  private _everFailed = false;
  private _lastMode: JoinMode | null = null;
  private _destroyed = false;
  private _wasOffline = false;
  private _fullToastAt = 0;
  private readonly _cleanup: (() => void)[] = [];
  private _localUser: { id: string; name: string; role: string } = { id: '', name: '', role: '' };
  /** Lock hand-over requests, once their chunk is loaded (init option lockRequests). */
  handover: Handover | null = null;
  private _handoverReady: Promise<Handover | null> = Promise.resolve(null);
  private readonly _providerHooks: ((p: CollabProvider) => void)[] = [];
  private _userFromToken = '';
  /** Increments with every resource this instance opens: start-up work of an earlier one stops. */
  private _generation = 0;

  constructor(options: InitOptions) {
    if (!options || !options.gatewayUrl) throw new Error('CollabSDK.init: gatewayUrl is required.');
    if (!options.token && !options.tokenProvider) throw new Error('CollabSDK.init: token or tokenProvider is required.');
    this._opts = { autoDiscovery: true, mode: 'editor', panel: true, offlineCache: true, ...options };
    this.resourceId = this._routeResourceId();
    const claims = jwtClaims(options.token);
    this._localUser = { id: String(claims.sub ?? ''), name: String(claims.name ?? claims.sub ?? ''), role: String(claims.role ?? '') };
    this._userFromToken = claims.sub ? String(claims.sub) : '';
    this._open();
    this._ui = typeof document !== 'undefined' ? new CollabUI(this._opts.panel !== false) : null;
    if (this._opts.lockRequests) this._loadHandover();
    this._wireDom();
    if (typeof options.resourceId !== 'string' || !options.resourceId) this._followRoutes();
    if (this._opts.autoDiscovery !== false) this.rescan();
    this._refresh();
    instances.push(this);
    this._storeReady = this._start(this._generation);
  }

  /** Loads the hand-over chunk and attaches it (its failure leaves the feature off, nothing else). */
  private _loadHandover(): void {
    const host: HandoverHost = {
      provider: () => this.provider,
      ui: () => this._ui,
      refresh: () => this._refresh(),
      emit: (name, args) => this.events.emit(name, args),
      onProvider: (hook) => {
        this._providerHooks.push(hook);
        hook(this.provider);
      },
    };
    this._handoverReady = loadChunk('handover', this._opts.gatewayUrl).then(
      (chunk) => {
        if (this._destroyed) return null;
        this.handover = chunk.attach(host);
        if (this._ui) this._ui.onRequestEdit = () => void this.requestEdit();
        this._refresh();
        return this.handover;
      },
      () => null,
    );
  }

  /** The resource the page's current URL names (or the fixed one given). */
  private _routeResourceId(): string {
    const option = this._opts.resourceId;
    return (typeof option === 'function' ? option() : option) || deriveResourceId(location);
  }

  /** A new document, awareness and provider for this.resourceId (not connected yet). */
  private _open(): void {
    const generation = ++this._generation;
    this.doc = new Y.Doc();
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this._setLocalUser(this._localUser.id, this._localUser.name, this._localUser.role);
    this.provider = new CollabProvider(this._opts.gatewayUrl, this.resourceId, this.doc, {
      token: this._opts.token,
      tokenProvider: this._opts.tokenProvider,
      mode: this._opts.mode,
      connect: false,
      awareness: this.awareness,
      transport: this._opts.transport,
      hubPath: this._opts.hubPath,
    });
    this._wireProvider();
    for (const hook of this._providerHooks) hook(this.provider);
    this.awareness.on('change', () => this._scheduleLayout());
    const doc = this.doc;
    doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin !== 'offline-cache' && generation === this._generation) this._scheduleSave();
    });
  }

  /**
   * Moves the widget to another resource without reloading: the current one is left (its lock released at
   * once, unsent edits kept in its offline cache), and the page's fields are bound to the new one's
   * document. Called by itself when the URL changes (unless resourceId was a fixed string).
   */
  setResource(resourceId: string): Promise<void> {
    if (this._destroyed || !resourceId || resourceId === this.resourceId) return this._storeReady;
    const from = this.resourceId;
    const oldProvider = this.provider;
    const oldDoc = this.doc;
    const oldAwareness = this.awareness;
    const unsent = oldProvider.hasUnsentChanges ? Y.encodeStateAsUpdate(oldDoc) : null;
    // The old resource's cache, if its start-up got that far (a start-up still under way closes its own).
    const oldStore = this._store;
    if (this._saveTimer) clearTimeout(this._saveTimer);
    this._saveTimer = null;
    for (const binding of Array.from(this.fields.values())) this._unbind(binding);
    oldProvider.destroy(); // resource:leave: the lock is free for others at once
    oldAwareness.destroy();
    oldDoc.destroy();
    this._store = null;
    this.cacheState = this._opts.offlineCache === false ? 'off' : 'none';
    this.restoredFromCache = false;
    this._everJoined = this._everFailed = this._wasOffline = false;
    this._lastMode = null;
    this.status = 'connecting';
    this.resourceId = resourceId;
    this._open();
    const generation = this._generation;
    if (this._opts.autoDiscovery !== false) this.rescan();
    this._refresh();
    this._refreshUsers();
    this.events.emit('resourceChanged', [{ from, to: resourceId }]);
    this._storeReady = this._storeReady
      .then(async () => {
        if (!oldStore) return;
        if (unsent) await oldStore.save(unsent); // sent when this user opens that resource again
        else await oldStore.clear();
        oldStore.close();
      })
      .catch(() => undefined)
      .then(() => this._start(generation));
    return this._storeReady;
  }

  /** Follows the page's own navigation: history.pushState/replaceState, back/forward, hash changes. */
  private _followRoutes(): void {
    if (typeof window === 'undefined') return;
    const follow = () => {
      if (this._destroyed) return;
      const next = this._routeResourceId();
      if (next !== this.resourceId) void this.setResource(next);
    };
    this._followRoute = follow;
    const stop = watchLocation(follow);
    this._cleanup.push(() => {
      this._followRoute = null;
      stop();
    });
  }

  private _followRoute: (() => void) | null = null;

  // ---- public API -------------------------------------------------------------------------------

  on(name: string, listener: (...args: any[]) => void): this {
    this.events.on(name, listener);
    return this;
  }

  off(name: string, listener: (...args: any[]) => void): this {
    this.events.off(name, listener);
    return this;
  }

  /**
   * Asks the lock holder to hand the lock over (init option lockRequests): with a reason, or without one
   * the form asking for it. The answer comes as the events lockHandedOver or lockRequestDeclined.
   */
  async requestEdit(reason?: string): Promise<void> {
    await (this.handover ?? (await this._handoverReady))?.requestEdit(reason);
  }

  /** Binds one field by hand (autoDiscovery: false), with an optional explicit id. */
  bind(el: CollabField, id?: string): FieldBinding {
    const known = this._byElement.get(el);
    if (known) return known;
    const fieldId = id ?? assignIds([el], new Map(Array.from(this._byElement, ([e, b]) => [e, b.id]))).get(el)!;
    return this._bind(el, fieldId);
  }

  /** Finds fields now (the MutationObserver calls this on every DOM change). */
  rescan(): void {
    if (this._destroyed) return;
    // A router may render the new page before our navigation listener ran: move first, then bind.
    if (this._followRoute && this._routeResourceId() !== this.resourceId) {
      this._followRoute();
      return; // setResource() rescans
    }
    const found = findFields(document);
    const present = new Set(found);
    let changed = false;
    for (const [el, binding] of Array.from(this._byElement)) {
      if (!present.has(el) || !el.isConnected) {
        this._unbind(binding);
        changed = true;
      }
    }
    const fresh = found.filter((el) => !this._byElement.has(el));
    if (fresh.length > 0) {
      const ids = assignIds(found, new Map(Array.from(this._byElement, ([e, b]) => [e, b.id])));
      for (const el of fresh) this._bind(el, ids.get(el)!);
      changed = true;
    }
    if (changed) {
      this._ui?.setFieldCount(this.fields.size);
      this.events.emit('fieldsChanged', [Array.from(this.fields.keys())]);
      this._refresh();
    }
  }

  /** Leaves the resource (releasing the lock), unbinds every field, removes the UI and wipes the offline cache. */
  async destroy(): Promise<void> {
    if (this._destroyed) return;
    this._destroyed = true;
    this.status = 'destroyed';
    const i = instances.indexOf(this);
    if (i >= 0) instances.splice(i, 1);
    this._observer?.disconnect();
    this._resizeObserver?.disconnect();
    cancelAnimationFrame(this._layoutFrame);
    if (this._layoutTimer) clearInterval(this._layoutTimer);
    if (this._saveTimer) clearTimeout(this._saveTimer);
    for (const fn of this._cleanup) fn();
    for (const binding of Array.from(this.fields.values())) this._unbind(binding);
    this.provider.destroy();
    this.awareness.destroy();
    this._ui?.destroy();
    await this._storeReady;
    if (this._store) {
      await this._store.clear();
      this._store.close();
    }
    this.events.emit('destroyed', []);
    this.events.removeAllListeners();
    this.doc.destroy();
  }

  // ---- start-up ---------------------------------------------------------------------------------

  /** Opens the offline cache of the current resource, restores what it kept, then connects. */
  private async _start(generation: number): Promise<void> {
    const current = () => !this._destroyed && generation === this._generation;
    let user = this._userFromToken;
    if (!user && this._opts.tokenProvider) {
      try {
        const token = await this._opts.tokenProvider();
        if (current()) this.provider.tokens.offer(token); // the first connection uses it: one call, not two
        const claims = jwtClaims(token);
        user = this._userFromToken = String(claims.sub ?? '');
        this._localUser = { id: user, name: String(claims.name ?? user), role: String(claims.role ?? '') };
        if (current()) this._setLocalUser(this._localUser.id, this._localUser.name, this._localUser.role);
      } catch {
        // the provider reports token failures when it connects
      }
    }
    if (!current()) return;
    if (this._opts.offlineCache !== false) {
      const store = await OfflineStore.open(`${user || 'anonymous'}|${this.resourceId}`);
      if (!current()) {
        store?.close();
        return;
      }
      this._store = store;
      if (!this._store) this.cacheState = 'off';
      const cached = this._store ? await this._store.load() : null;
      if (!current()) return;
      if (cached) {
        // Restored edits count as local and unsent: the first sync sends them.
        Y.applyUpdate(this.doc, cached, 'offline-cache');
        this.provider.markUnsent();
        this.cacheState = 'restored';
        this.restoredFromCache = true;
        this.events.emit('restored', []);
      }
    } else {
      this.cacheState = 'off';
    }
    if (current()) this.provider.connect();
  }

  private _setLocalUser(userId: string, name: string, role: string): void {
    this.awareness.setLocalStateField('user', { id: userId, name: name || userId, role, color: colorFor(userId || 'x') });
  }

  // ---- provider -> state ------------------------------------------------------------------------

  private _wireProvider(): void {
    const p = this.provider;
    p.on('session', (s) => {
      this._localUser = { id: s.userId, name: s.username, role: s.role };
      this._setLocalUser(s.userId, s.username, s.role);
    });
    p.on('status', ({ status }: { status: string }) => {
      if (status === 'connected') {
        this._everJoined = true;
        this._lastMode = p.reclaiming ? 'editor' : p.mode;
        this.metrics.connectedMs ??= performance.now() - this.metrics.initAt;
        this.events.emit('connected', [{ session: p.session, mode: p.mode, resourceId: this.resourceId }]);
      } else if (status === 'disconnected' && !this._destroyed && !p.refreshingToken) {
        this._everFailed = true;
        if (!this._wasOffline) {
          this._wasOffline = true;
          this.events.emit('offline', [true]);
        }
      }
      this._refresh();
    });
    p.on('connection-error', () => {
      this._everFailed = true;
      this._refresh();
    });
    p.on('network', () => this._refresh());
    p.on('reconnecting', () => this._refresh());
    p.on('synced', (synced: boolean) => {
      if (synced) {
        const first = this.metrics.syncedMs === null;
        this.metrics.syncedMs ??= performance.now() - this.metrics.initAt;
        if (this._wasOffline) {
          this._wasOffline = false;
          this.events.emit('offline', [false]);
          this.events.emit('reconnected', []);
        }
        if (p.mode === 'editor') for (const b of this.fields.values()) b.seed();
        this.events.emit('synced', [{ first, initToSyncedMs: this.metrics.syncedMs }]);
      }
      this._refresh();
    });
    p.on('users', () => this._refreshUsers());
    p.on('all-users', () => this._refreshUsers());
    p.on('locks', () => this._refresh());
    p.on('lock', (lock: LockView | null) => {
      const wasEditor = this._lastMode === 'editor';
      this._lastMode = p.mode;
      if (lock && !wasEditor && this._everJoined && p.synced) {
        this._ui?.toast('The lock is yours: you can edit now.', 'info', 'unlock');
        for (const b of this.fields.values()) b.seed();
      }
      this._emitLock();
      this._refresh();
    });
    p.on('joined', () => {
      this._lastMode = p.reclaiming ? 'editor' : p.mode;
      this._emitLock();
    });
    p.on('lock-denied', (denied: { message: string; holder?: { username: string } | null; expiresAt?: string | null; code: string }) => {
      const who = denied.holder?.username;
      const until = hhmm(denied.expiresAt);
      const text = who
        ? `Locked by ${who}${until ? ` until ${until}` : ''}. You can follow along read-only; the fields unlock when they finish.`
        : denied.message;
      this._ui?.toast(text, 'warn', 'lock');
      this._emitLock();
    });
    p.on('lock-lost', (reason: string) => {
      // (a hand-over has its own message: lock-handed-over)
      if (reason !== 'handed_over') this._ui?.toast(`Your editing lock ended (${reason.replace(/_/g, ' ')}); the fields are read-only now.`, 'warn', 'lock');
      this._lastMode = 'viewer';
      this._emitLock();
      this._refresh();
    });
    p.on('pending', () => {
      this._scheduleSave();
      this._refreshStatus();
    });
    p.on('saved', () => {
      this._clearCacheIfSynced();
      this._refreshStatus();
    });
    p.on('remote-update', () => this._scheduleLayout());
    p.onHubEvent('resource:updated', (b: ApiBroadcast<ResourceUpdatedPayload>) => this._resourceUpdated(b));
    p.on('error', (e: { code: string; message: string }) => {
      this.events.emit('error', [e]);
      this._opts.onError?.(e);
      if (e.code === 'PERMISSION_DENIED' || e.code === 'UNAUTHORIZED' || e.code === 'MAX_VIEWERS_REACHED') {
        this._ui?.toast(e.message, 'error');
      }
      // An edit past the size limits (one update, or the whole record): it stays on this page and is retried, but is not saved. Said once a minute, not on every retry.
      if (e.code === 'PAYLOAD_TOO_LARGE' && Date.now() - this._fullToastAt > 60000) {
        this._fullToastAt = Date.now();
        this._ui?.toast('Your latest changes are too large to save (this record is at its size limit). Remove some text, or ask an administrator.', 'error');
      }
      // Refused for good (no access any more): nothing typed here would be saved, so the fields are read-only.
      if (e.code === 'PERMISSION_DENIED' && !p.shouldConnect) {
        this._lastMode = 'viewer';
        this._refresh();
      }
    });
  }

  /** resource:updated: the resourceUpdated event, and the notice unless the page turned it off. */
  private _resourceUpdated(b: ApiBroadcast<ResourceUpdatedPayload>): void {
    const id = b?.resourceId;
    if (this._destroyed || !b?.payload || (id !== this.resourceId && !this.resourceId.startsWith(id + '/'))) return;
    const u = b.payload;
    const triggeredBy = b.triggeredBy ?? { userId: u.source, username: u.source, action: 'webhook' };
    const event: ResourceUpdatedEvent = {
      resourceId: u.resourceId, resourceType: u.resourceType, action: u.action, source: u.source, triggeredBy,
      timestamp: u.timestamp, deliveryId: u.deliveryId, data: u.data,
    };
    this.events.emit('resourceUpdated', [event]);
    if (!this._ui || this._opts.updateNotice === false) return;
    const anchor = Array.from(this.fields.values(), (f) => f.el).find((el) => el.isConnected && el.getClientRects().length > 0) ?? null;
    if ((anchor ?? document.body)?.closest('[data-collab-update-notice="off"]')) return;
    this._ui.notice(`Updated in ${u.source} by ${triggeredBy.username}`, anchor);
  }

  private _emitLock(): void {
    const p = this.provider;
    const mine = p.lock;
    const others = p.locks.filter((l) => !mine || l.lockId !== mine.lockId);
    const holder = mine ? mine.holder : others[0]?.holder ?? p.lockDenied?.holder ?? null;
    this.events.emit('lockChanged', [
      {
        mine: !!mine,
        holder,
        expiresAt: mine?.expiresAt ?? others[0]?.expiresAt ?? p.lockDenied?.expiresAt ?? null,
        editable: this._editable(),
        locks: p.locks,
      },
    ]);
  }

  // ---- fields -----------------------------------------------------------------------------------

  private _bind(el: CollabField, id: string): FieldBinding {
    const binding = new FieldBinding(el, id, this.doc, {
      canWrite: () => this._editable(),
      onRemoteChange: (b) => {
        this._ui?.flash(b.el);
        this.events.emit('remoteChange', [b.id]);
      },
    });
    el.setAttribute('data-collab-field', id);
    this.fields.set(id, binding);
    this._byElement.set(el, binding);
    this._resizeObserver?.observe(el);
    if (this.provider.synced && this.provider.mode === 'editor') binding.seed();
    return binding;
  }

  private _unbind(binding: FieldBinding): void {
    binding.destroy();
    this._ui?.clearField(binding.el);
    this._resizeObserver?.unobserve(binding.el);
    this._byElement.delete(binding.el);
    if (this.fields.get(binding.id) === binding) this.fields.delete(binding.id);
    // The Y.Text stays in the doc: re-adding the field restores its value.
    const focus = this.awareness.getLocalState()?.focus;
    if (focus === binding.id) this.awareness.setLocalStateField('focus', null);
  }

  private _wireDom(): void {
    if (typeof document === 'undefined') return;
    if (this._opts.autoDiscovery !== false && typeof MutationObserver !== 'undefined') {
      this._observer = new MutationObserver((records) => {
        // Our own attributes do not matter; anything else may add, remove or change a field.
        if (records.some((r) => r.type === 'childList' || !(r.target instanceof Element) || !r.target.closest('[data-collab-sdk-root]'))) {
          this.rescan();
        }
      });
      this._observer.observe(document.documentElement, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeFilter: ['type', 'data-collab', 'disabled', 'readonly'],
      });
    }
    if (typeof ResizeObserver !== 'undefined') this._resizeObserver = new ResizeObserver(() => this._scheduleLayout());
    const onFocusIn = (e: Event) => {
      const binding = this._byElement.get(e.target as CollabField);
      if (binding) this.awareness.setLocalStateField('focus', binding.id);
    };
    const onFocusOut = (e: Event) => {
      if (this._byElement.has(e.target as CollabField)) this.awareness.setLocalStateField('focus', null);
    };
    const onScroll = () => this._scheduleLayout();
    document.addEventListener('focusin', onFocusIn, true);
    document.addEventListener('focusout', onFocusOut, true);
    window.addEventListener('scroll', onScroll, { capture: true, passive: true });
    window.addEventListener('resize', onScroll);
    this._layoutTimer = setInterval(() => this._scheduleLayout(), 1000);
    this._cleanup.push(() => {
      document.removeEventListener('focusin', onFocusIn, true);
      document.removeEventListener('focusout', onFocusOut, true);
      window.removeEventListener('scroll', onScroll, true);
      window.removeEventListener('resize', onScroll);
    });
  }

  // ---- state -> UI ------------------------------------------------------------------------------

  private _offline(): boolean {
    const p = this.provider;
    return !p.wsconnected && (p.browserOffline || this._everFailed);
  }

  /** May the local user type? */
  private _editable(): boolean {
    const p = this.provider;
    // Getting our own lock back after a reconnect: keep typing, it goes out once the lock is back.
    if (p.reclaiming) return true;
    if (p.wsconnected && p.synced) return p.mode === 'editor';
    // Offline, or on the way back after a drop or a token refresh (reconnecting, joined but not synced yet).
    if (this._offline() || this._everJoined) {
      // Keep editing offline if we were the editor, or meant to be one and never learned otherwise.
      return this._lastMode === 'editor' || (this._lastMode === null && this._opts.mode === 'editor');
    }
    return false;
  }

  private _refresh(): void {
    if (this._destroyed) return;
    const editable = this._editable();
    for (const b of this.fields.values()) b.setEditable(editable);
    this._refreshStatus();
    this._refreshLockLine();
    this._scheduleLayout();
  }

  private _refreshStatus(): void {
    this.status = statusOf(this.provider, this._offline());
    if (!this._ui) return;
    const [kind, text, sub] = statusLine(this.status, this.provider.hasUnsentChanges, this._everJoined);
    this._ui.setStatus(kind, text, sub);
  }

  private _refreshLockLine(): void {
    if (!this._ui) return;
    const [kind, text] = lockLine(this.provider, this.handover);
    this._ui.setLock(kind, text);
  }

  private _refreshUsers(): void {
    const list = panelUsers(this.provider, this.resourceId);
    this._ui?.setUsers(list);
    this.events.emit('usersChanged', [list]);
    this._scheduleLayout();
  }

  private _scheduleLayout(): void {
    if (this._destroyed || this._layoutFrame) return;
    this._layoutFrame = requestAnimationFrame(() => {
      this._layoutFrame = 0;
      this._layout();
    });
  }

  private _layout(): void {
    if (!this._ui || this._destroyed) return;
    const { state, badge } = fieldState(this.provider, this._offline(), this._editable(), this.handover);
    const views: FieldView[] = [];
    for (const b of this.fields.values()) views.push({ id: b.id, el: b.el, state, badge });
    const present = new Map<string, PresenceUser>();
    const bySession = new Map<string, PresenceUser>();
    for (const u of this.provider.users.concat(...(this.provider.allUsers?.subResources ?? []).map((g) => g.users))) {
      if (!present.has(u.userId)) present.set(u.userId, u);
      bySession.set(u.sessionId, u);
    }
    this._ui.layout(views, focusAvatars(this.awareness, this.doc.clientID, this.fields, present, this.provider.awarenessSessions, bySession));
  }

  // ---- offline cache ----------------------------------------------------------------------------

  private _scheduleSave(): void {
    if (!this._store || this._destroyed || !this.provider.hasUnsentChanges) return;
    if (this._saveTimer) return;
    this._saveTimer = setTimeout(() => {
      this._saveTimer = null;
      if (!this._store || this._destroyed || !this.provider.hasUnsentChanges) return;
      const state = Y.encodeStateAsUpdate(this.doc);
      void this._store.save(state).then(() => {
        if (this.provider.hasUnsentChanges) {
          this.cacheState = 'saved';
          this.events.emit('cacheSaved', []);
        } else {
          this._clearCacheIfSynced();
        }
      });
    }, 40);
  }

  private _clearCacheIfSynced(): void {
    if (!this._store || this.provider.hasUnsentChanges) return;
    void this._store.clear().then(() => {
      if (!this.provider.hasUnsentChanges) {
        this.cacheState = 'none';
        this.events.emit('cacheCleared', []);
      }
    });
  }
}

export function init(options: InitOptions): CollabInstance {
  return new CollabInstance(options);
}

/** Destroys every instance and deletes the offline cache database (call on logout). */
export async function logout(): Promise<void> {
  await Promise.all(instances.slice().map((i) => i.destroy()));
  if (typeof indexedDB !== 'undefined') {
    await new Promise<void>((resolve) => {
      const req = indexedDB.deleteDatabase('collab-sdk-offline');
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    });
  }
}

export { OfflineStore, isCollaborative };
