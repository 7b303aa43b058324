// Locks and heartbeats, the top layer under CollabProvider.
//
// The server grants the editor lock on join when it is free (or says why not: lockDenied, with a code),
// announces every grant, renewal and end with lock:* events, and makes us an editor only while we hold a
// lock. We renew ours every quarter of its TTL with lock:heartbeat, keep the session alive with heartbeat,
// and take a freed lock automatically when we asked to edit (autoAcquire) and our role may lock.
// Reconnecting (a dropped socket, a token refresh) the server gives our lock back to the new connection once
// it has noticed the old one is gone (the grace period); a join that races ahead of that hears LOCK_HELD with
// ourselves as the holder, so we ask again (reclaiming: still an editor to the page meanwhile, the edits wait as
// unsent) for as long as the server may take to notice a dead socket (its client timeout, 30 s).
import type { Hub } from './connection';
import { ErrorCodes } from './codes';
import { Presence } from './presence';
import type { ApiBroadcast, ApiResponse, JoinResult, LockDenied, LockView } from './types';

/** How long we ask for our own lock back after a reconnect: SignalR's default client timeout (30 s) and some. */
const RECLAIM_FOR_MS = 35_000;

export abstract class Locks extends Presence {
  modeReason: string | null = null;
  lock: LockView | null = null;
  locks: LockView[] = [];
  lockDenied: LockDenied | null = null;

  /** False once the server told us (by code) that our role may not lock this resource. */
  private _mayLock = true;
  private _acquiring = false;
  private _heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private _lockTimer: ReturnType<typeof setInterval> | null = null;
  private _reclaimTimer: ReturnType<typeof setTimeout> | null = null;
  /** True while we ask for our own lock back after a reconnect (the old connection still held it). */
  reclaiming = false;

  /** Whether our role may lock this resource, as far as the server told us (by code or by the join answer). */
  get mayLock(): boolean {
    return this._mayLock;
  }

  /** Asks for the editing lock (e.g. after it was released). Resolves with the server's answer. */
  async acquireLock(): Promise<ApiResponse<LockView>> {
    const r = await this.invoke<LockView>('lock:acquire', { resourceId: this.resourceId });
    if (r.success && r.data) {
      this._setOwnLock(r.data);
      // Anything typed while we were a viewer (offline) goes out now.
      if (this._hasUnsentFlag) void this._resync();
    } else if (r.error) {
      if (r.error.code === ErrorCodes.PermissionDenied) this._mayLock = false;
      this.emit('lock-denied', [{ code: r.error.code, message: r.error.message, holder: r.error.details?.holder, expiresAt: r.error.details?.expiresAt }]);
    }
    return r;
  }

  /**
   * Takes in a lock the server moved without lock:acquire (a hand-over, see chunks/handover.ts): `lock` is
   * ours now (mine) or someone else's; `endedLockId` is the lock it replaced, ours if we held it.
   */
  adoptLock(lock: LockView, mine: boolean, endedLockId?: string | null): void {
    const ended = (id: string) => id === endedLockId || id === lock.lockId;
    const wasMine = !!this.lock && ended(this.lock.lockId);
    this.locks = this.locks.filter((l) => !ended(l.lockId));
    if (mine) {
      this._setOwnLock(lock);
      if (this._hasUnsentFlag) void this._resync();
      return;
    }
    this.locks = this.locks.concat([lock]);
    if (wasMine) {
      this._setOwnLock(null);
      this.emit('lock-lost', ['handed_over', 'lock:handed-over']);
    } else {
      this.emit('locks', [this.locks]);
    }
  }

  async releaseLock(): Promise<ApiResponse> {
    const r = await this.invoke('lock:release', { resourceId: this.resourceId });
    if (r.success) this._setOwnLock(null);
    return r;
  }

  protected override _wire(connection: Hub): void {
    super._wire(connection);
    const upsertLock = (b: ApiBroadcast<LockView>) => {
      if (!this._mine(b)) return;
      this.locks = this.locks.filter((l) => l.lockId !== b.payload.lockId).concat([b.payload]);
      if (this.lock && this.lock.lockId === b.payload.lockId) this.lock = b.payload;
      this.emit('locks', [this.locks]);
    };
    connection.on('lock:acquired', upsertLock);
    connection.on('lock:renewed', upsertLock);
    const endLock = (b: ApiBroadcast<{ lockId: string; reason: string }>) => {
      if (!this._mine(b)) return;
      this.locks = this.locks.filter((l) => l.lockId !== b.payload.lockId);
      if (this.lock?.lockId === b.payload.lockId) {
        this._setOwnLock(null);
        this.emit('lock-lost', [b.payload.reason, b.event]);
      } else {
        this.emit('locks', [this.locks]);
        this._maybeAcquire();
      }
    };
    connection.on('lock:released', endLock);
    connection.on('lock:expired', endLock);
  }

  protected _applyLocks(data: JoinResult): void {
    const hadLock = !!this.lock || this.reclaiming;
    this._stopReclaim();
    if (hadLock && data.mode === 'viewer' && data.lockDenied?.code === ErrorCodes.LockHeld && data.lockDenied.holder?.userId === this.session?.userId) {
      this.reclaiming = true;
      data = { ...data, lockDenied: null }; // not someone else's lock: no "locked by" for the page
      this._reclaim(Date.now(), 150);
    }
    this.mode = data.mode;
    this.modeReason = data.modeReason ?? null;
    this.locks = data.locks ?? [];
    this.lockDenied = data.lockDenied ?? null;
    this.lock = data.lock ?? null;
    // Asked to edit, joined as viewer: a lock conflict comes with lockDenied (LOCK_HELD, MAX_EDITORS_REACHED);
    // without one, the server's only other reason is that our role may not lock here.
    this._mayLock = !(data.requestedMode === 'editor' && data.mode === 'viewer' && !data.lockDenied);
  }

  /** Asks for our own lock again, 150 ms, 300 ms ... at most 4 s apart; gives up (a real second tab holds it) after RECLAIM_FOR_MS. */
  private _reclaim(startedAt: number, delay: number): void {
    this._reclaimTimer = setTimeout(async () => {
      this._reclaimTimer = null;
      const r = await this.invoke<LockView>('lock:acquire', { resourceId: this.resourceId });
      if (!this.reclaiming) return;
      if (r.success && r.data) {
        this.reclaiming = false;
        this._setOwnLock(r.data);
        if (this._hasUnsentFlag) void this._resync();
      } else if (Date.now() - startedAt < RECLAIM_FOR_MS && this.wsconnected && r.error?.code === ErrorCodes.LockHeld) {
        this._reclaim(startedAt, Math.min(4000, delay * 2));
      } else {
        this._stopReclaim();
        if (r.error) this.emit('lock-denied', [{ code: r.error.code, message: r.error.message, holder: r.error.details?.holder, expiresAt: r.error.details?.expiresAt }]);
        this.emit('lock', [null]);
      }
    }, delay);
  }

  private _stopReclaim(): void {
    if (this._reclaimTimer) clearTimeout(this._reclaimTimer);
    this._reclaimTimer = null;
    this.reclaiming = false;
  }

  protected _emitJoinLocks(): void {
    this.emit('locks', [this.locks]);
    if (this.lockDenied) this.emit('lock-denied', [this.lockDenied]);
  }

  private _setOwnLock(lock: LockView | null): void {
    this.lock = lock;
    if (lock) {
      this._stopReclaim();
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

  private _maybeAcquire(): void {
    if (!this._opts.autoAcquire || this.requestedMode !== 'editor' || !this._mayLock || this.lock || this._acquiring || !this.wsconnected) return;
    this._acquiring = true;
    void this.acquireLock().finally(() => {
      this._acquiring = false;
    });
  }

  protected _startHeartbeats(): void {
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
      } else if (r.error && r.error.code === ErrorCodes.LockNotHeld) {
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

  protected override _onDown(left: boolean): void {
    super._onDown(left);
    this._stopHeartbeats();
    if (this._reclaimTimer) clearTimeout(this._reclaimTimer); // (reclaiming stays: the next join decides)
    this._reclaimTimer = null;
  }
}
