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
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { FieldBinding } from './binding';
import { assignIds, findFields, isCollaborative, type CollabField } from './discovery';
import { Emitter } from './emitter';
import { OfflineStore } from './offline-store';
import { CollabProvider, type JoinMode, type LockView, type PresenceUser } from './provider';
import { CollabUI, type AvatarView, type FieldState, type FieldView, type PanelUser } from './ui';
import { colorFor, deriveResourceId, hhmm, jwtClaims } from './util';

export interface InitOptions {
  /** Base URL of a CollabAkka node, e.g. https://collab.example (the hub is at /hubs/collab). */
  gatewayUrl: string;
  token?: string;
  tokenProvider?: () => string | Promise<string>;
  /** Default: derived from the page URL (see deriveResourceId). */
  resourceId?: string;
  /** Bind text inputs and textareas automatically, including ones added later (default true). */
  autoDiscovery?: boolean;
  /** 'editor' (default) takes the lock when free; 'viewer' only watches. */
  mode?: JoinMode;
  onError?: (error: { code: string; message: string }) => void;
  /** Show the presence panel (default true). */
  panel?: boolean;
  /** Keep unsent edits in an encrypted IndexedDB cache (default true). */
  offlineCache?: boolean;
  /** Passed to the provider. */
  transport?: 'websockets' | 'auto';
  hubPath?: string;
}

export type InstanceStatus = 'connecting' | 'syncing' | 'connected' | 'offline' | 'destroyed';

export const instances: CollabInstance[] = [];

export class CollabInstance {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  readonly provider: CollabProvider;
  readonly resourceId: string;
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
  private readonly _cleanup: (() => void)[] = [];

  constructor(options: InitOptions) {
    if (!options || !options.gatewayUrl) throw new Error('CollabSDK.init: gatewayUrl is required.');
    if (!options.token && !options.tokenProvider) throw new Error('CollabSDK.init: token or tokenProvider is required.');
    this._opts = { autoDiscovery: true, mode: 'editor', panel: true, offlineCache: true, ...options };
    this.resourceId = options.resourceId || deriveResourceId(location);
    this.doc = new Y.Doc();
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    const claims = jwtClaims(options.token);
    this._setLocalUser(String(claims.sub ?? ''), String(claims.name ?? claims.sub ?? ''), String(claims.role ?? ''));

    this.provider = new CollabProvider(options.gatewayUrl, this.resourceId, this.doc, {
      token: options.token,
      tokenProvider: options.tokenProvider,
      mode: this._opts.mode,
      connect: false,
      awareness: this.awareness,
      transport: options.transport,
      hubPath: options.hubPath,
    });
    this._ui = typeof document !== 'undefined' ? new CollabUI(this._opts.panel !== false) : null;
    this._wireProvider();
    this._wireDom();
    if (this._opts.autoDiscovery !== false) this.rescan();
    this._refresh();
    instances.push(this);
    this._storeReady = this._start(claims.sub ? String(claims.sub) : '');
  }

  // ---- public API -------------------------------------------------------------------------------

  on(name: string, listener: (...args: any[]) => void): this {
    this.events.on(name, listener);
    return this;
  }

  off(name: string, listener: (...args: any[]) => void): this {
    this.events.off(name, listener);
    return this;
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

  private async _start(userFromToken: string): Promise<void> {
    let user = userFromToken;
    if (!user && this._opts.tokenProvider) {
      try {
        const claims = jwtClaims(await this._opts.tokenProvider());
        user = String(claims.sub ?? '');
        this._setLocalUser(user, String(claims.name ?? user), String(claims.role ?? ''));
      } catch {
        // the provider reports token failures when it connects
      }
    }
    if (this._opts.offlineCache !== false) {
      this._store = await OfflineStore.open(`${user || 'anonymous'}|${this.resourceId}`);
      if (!this._store) this.cacheState = 'off';
      const cached = this._store ? await this._store.load() : null;
      if (cached && !this._destroyed) {
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
    if (!this._destroyed) this.provider.connect();
  }

  private _setLocalUser(userId: string, name: string, role: string): void {
    this.awareness.setLocalStateField('user', { id: userId, name: name || userId, role, color: colorFor(userId || 'x') });
  }

  // ---- provider -> state ------------------------------------------------------------------------

  private _wireProvider(): void {
    const p = this.provider;
    p.on('session', (s) => this._setLocalUser(s.userId, s.username, s.role));
    p.on('status', ({ status }: { status: string }) => {
      if (status === 'connected') {
        this._everJoined = true;
        this._lastMode = p.mode;
        this.metrics.connectedMs ??= performance.now() - this.metrics.initAt;
        this.events.emit('connected', [{ session: p.session, mode: p.mode, resourceId: this.resourceId }]);
      } else if (status === 'disconnected' && !this._destroyed) {
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
      this._lastMode = p.mode;
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
      this._ui?.toast(`Your editing lock ended (${reason.replace(/_/g, ' ')}); the fields are read-only now.`, 'warn', 'lock');
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
    p.on('error', (e: { code: string; message: string }) => {
      this.events.emit('error', [e]);
      this._opts.onError?.(e);
      if (e.code === 'PERMISSION_DENIED' || e.code === 'UNAUTHORIZED' || e.code === 'MAX_VIEWERS_REACHED') {
        this._ui?.toast(e.message, 'error');
      }
    });
    this.awareness.on('change', () => this._scheduleLayout());
    this.doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin !== 'offline-cache') this._scheduleSave();
    });
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
    if (p.wsconnected && p.synced) return p.mode === 'editor';
    if (this._offline()) {
      // Keep editing offline if we were the editor, or meant to be one and never learned otherwise.
      return this._lastMode === 'editor' || (this._lastMode === null && this._opts.mode === 'editor');
    }
    return false;
  }

  private _fieldState(): { state: FieldState; badge: FieldView['badge'] } {
    const p = this.provider;
    if (this._offline()) {
      const editable = this._editable();
      return {
        state: 'offline',
        badge: {
          kind: 'offline',
          text: 'Offline',
          title: editable
            ? 'Offline: keep typing. Your edits are kept (encrypted) on this device and merged when the connection returns.'
            : 'Offline: read-only until the connection returns.',
        },
      };
    }
    if (!p.wsconnected || !p.synced) {
      return { state: 'connecting', badge: { kind: 'readonly', text: '…', title: 'Connecting to the collaboration server…' } };
    }
    if (p.mode === 'editor') {
      const until = hhmm(p.lock?.expiresAt);
      return {
        state: 'own-lock',
        badge: {
          kind: 'mine',
          text: `You${until ? ` · until ${until}` : ''}`,
          title: `Collaborative field. You hold the editing lock${until ? ` until ${until}` : ''} (renewed while this tab is open); others see your changes live.`,
        },
      };
    }
    const other = p.locks.find((l) => l.holder.userId !== p.session?.userId) ?? p.locks[0];
    if (other) {
      const until = hhmm(other.expiresAt);
      return {
        state: 'locked',
        badge: {
          kind: 'locked',
          text: `${other.holder.username}${until ? ` · until ${until}` : ''}`,
          title: `Locked by ${other.holder.username}${until ? ` until ${until}` : ''}. You see their changes live; the field unlocks when they finish.`,
        },
      };
    }
    return {
      state: 'readonly',
      badge: { kind: 'readonly', text: 'View only', title: p.modeReason ?? 'You are viewing this record.' },
    };
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
    const p = this.provider;
    let status: InstanceStatus;
    if (this._offline()) status = 'offline';
    else if (p.wsconnected && p.synced) status = 'connected';
    else if (p.wsconnected) status = 'syncing';
    else status = 'connecting';
    this.status = status;
    const ui = this._ui;
    if (!ui) return;
    const unsent = p.hasUnsentChanges;
    switch (status) {
      case 'offline':
        ui.setStatus('offline', 'Offline', unsent ? 'edits kept on this device' : 'reconnecting…');
        break;
      case 'connected':
        ui.setStatus('connected', 'Connected', unsent ? 'Saving…' : 'Synced');
        break;
      case 'syncing':
        ui.setStatus('syncing', 'Connected', 'Syncing…');
        break;
      default:
        ui.setStatus('connecting', this._everJoined ? 'Reconnecting…' : 'Connecting…');
    }
  }

  private _refreshLockLine(): void {
    const p = this.provider;
    if (!this._ui) return;
    if (p.lock) {
      this._ui.setLock('mine', `You are editing · lock until ${hhmm(p.lock.expiresAt)}`);
    } else {
      const other = p.locks[0];
      if (other) this._ui.setLock('other', `Locked by ${other.holder.username} until ${hhmm(other.expiresAt)}`);
      else if (p.wsconnected) this._ui.setLock('none', p.modeReason ?? 'No one is editing.');
      else this._ui.setLock('none', '—');
    }
  }

  private _refreshUsers(): void {
    const p = this.provider;
    const me = p.session?.sessionId;
    const list: PanelUser[] = [];
    const seen = new Set<string>();
    const add = (u: PresenceUser, where?: string) => {
      if (seen.has(u.sessionId)) return;
      seen.add(u.sessionId);
      list.push({ userId: u.userId, username: u.username, role: u.role, mode: u.mode, where, me: u.sessionId === me });
    };
    for (const u of p.users) add(u);
    for (const group of p.allUsers?.subResources ?? []) {
      const where = group.subResourceId === this.resourceId ? undefined : group.subResourceId.split('/').pop();
      for (const u of group.users) add(u, where);
    }
    list.sort((a, b) => Number(!!b.me) - Number(!!a.me));
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
    const { state, badge } = this._fieldState();
    const views: FieldView[] = [];
    for (const b of this.fields.values()) views.push({ id: b.id, el: b.el, state, badge });
    // Avatars: remote awareness states focused on a field, one per user.
    // Awareness is what peers say about themselves: names and roles come from server presence (the token),
    // a user absent from presence is not shown, and only a #rrggbb colour is used (anything else could be CSS).
    const present = new Map<string, PresenceUser>();
    for (const u of this.provider.users) present.set(u.userId, u);
    for (const group of this.provider.allUsers?.subResources ?? []) for (const u of group.users) if (!present.has(u.userId)) present.set(u.userId, u);
    const avatars = new Map<string, AvatarView[]>();
    const seen = new Set<string>();
    this.awareness.getStates().forEach((state, clientId) => {
      if (clientId === this.doc.clientID) return;
      const focus = state?.focus as string | undefined;
      const user = state?.user as { id?: unknown; color?: unknown } | undefined;
      const known = typeof user?.id === 'string' ? present.get(user.id) : undefined;
      if (typeof focus !== 'string' || !known || !this.fields.has(focus)) return;
      const key = `${known.userId}|${focus}`;
      if (seen.has(key)) return;
      seen.add(key);
      const list = avatars.get(focus) ?? [];
      const color = typeof user?.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(user.color) ? user.color : colorFor(known.userId);
      list.push({ userId: known.userId, name: known.username, role: known.role, color });
      avatars.set(focus, list);
    });
    this._ui.layout(views, avatars);
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
