// CollabProvider: one Y.Doc <-> one CollabAkka resource over the SignalR hub, in the shape of y-websocket's
// WebsocketProvider (doc, awareness, synced, wsconnected, on('sync'|'status'), connect(), disconnect(),
// destroy()), so any Y.js editor binding runs over our server.
//
// Built in layers, one file each, every layer a subclass of the one below:
//   connection.ts  the hub connection: start, join, invoke with timeout, drop, backoff, online/offline, pagehide
//   sync.ts        the document: doc:sync on join, local updates out (merged per 20 ms), unsent tracking
//   presence.ts    members (server-authoritative, modes included) and awareness (cursors, focus)
//   locks.ts       the editor lock: join grant, lock:* events, renewal, automatic take-over, session heartbeat
// This file joins them: what happens on join, in which order.
import type * as Y from 'yjs';
import { Locks } from './locks';
import type { JoinResult, ProviderOptions } from './types';

export type { AllUsers, ApiBroadcast, ApiResponse, JoinMode, LockDenied, LockHandedOver, LockRequestDeclined, LockRequestView, LockView, PresenceUser, ProviderOptions, ProviderStatus, ResourceUpdatedPayload, Session, TriggeredBy } from './types';

export class CollabProvider extends Locks {
  constructor(serverUrl: string, resourceId: string, doc: Y.Doc, options: ProviderOptions = {}) {
    super(serverUrl, resourceId, doc, options);
    if (options.connect !== false) this.connect();
  }

  protected override _onJoined(data: JoinResult): void {
    this.revision = data.revision ?? 0;
    this._applyLocks(data);
    this._applyPresence(data);
    this.emit('joined', [data]);
    this.emit('users', [this.users]);
    this._emitJoinLocks();
  }

  protected override async _afterJoin(run: number): Promise<void> {
    this._startHeartbeats();
    await this._resync();
    if (run !== this._runId) return;
    this._announce();
  }
}
