// Presence and awareness, the third layer of CollabProvider.
//
// Presence (who is here, in which mode) is the server's: the join answer, user:joined / user:left, and
// resource:all_users, which the server sends on every join, leave and lock change of the resource's family
// with each member's current mode. Awareness (y-protocols) carries only cursors and focus; the server
// relays it and keeps the latest state of every client, which it hands to each newcomer on join. A relay names
// the sender's session (the server's, from the token): awarenessSessions binds each awareness client id to it, so
// a peer claiming another user's id in its state is still shown as itself (newcomer snapshots carry no session:
// there the claimed id is used until that peer's next update).
import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { fromBase64, toBase64 } from '../util';
import type { Hub } from './connection';
import { DocSync } from './sync';
import type { AllUsers, ApiBroadcast, DocUpdatePayload, JoinResult, PresenceUser, ProviderOptions } from './types';

export abstract class Presence extends DocSync {
  users: PresenceUser[] = [];
  allUsers: AllUsers | null = null;
  /** Awareness client id -> the session that sent it, as the server said in its relay. */
  readonly awarenessSessions = new Map<number, string>();

  private readonly _onAwarenessUpdate: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void;

  constructor(serverUrl: string, resourceId: string, doc: Y.Doc, options: ProviderOptions) {
    super(serverUrl, resourceId, doc, options);
    this._onAwarenessUpdate = ({ added, updated, removed }, origin) => {
      if (origin === this) return;
      const mine = added.concat(updated, removed).filter((c) => c === doc.clientID);
      if (mine.length > 0) this._sendAwareness(mine);
    };
    this.awareness.on('update', this._onAwarenessUpdate);
  }

  protected override _wire(connection: Hub): void {
    super._wire(connection);
    connection.on('awareness:update', (b: ApiBroadcast<DocUpdatePayload>) => {
      if (!this._mine(b)) return;
      const session = b.payload.sessionId;
      const bind = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) => {
        for (const c of added.concat(updated)) if (session) this.awarenessSessions.set(c, session);
        for (const c of removed) this.awarenessSessions.delete(c);
      };
      this.awareness.on('update', bind);
      try {
        awarenessProtocol.applyAwarenessUpdate(this.awareness, fromBase64(b.payload.update), this);
      } finally {
        this.awareness.off('update', bind);
      }
    });
    connection.on('user:joined', (b: ApiBroadcast<{ user: PresenceUser }>) => {
      if (!this._mine(b)) return;
      this.users = this.users.filter((u) => u.sessionId !== b.payload.user.sessionId).concat([b.payload.user]);
      this.emit('users', [this.users]);
    });
    connection.on('user:left', (b: ApiBroadcast<{ user: PresenceUser }>) => {
      if (!this._mine(b)) return;
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
  }

  protected _applyPresence(data: JoinResult): void {
    this.users = data.users ?? [];
  }

  /**
   * Tells the room where we are. Re-setting the local state raises its clock above the removal the server
   * announced for our previous connection (others would ignore a state at the old clock).
   */
  protected _announce(): void {
    const state = this.awareness.getLocalState();
    if (state !== null) this.awareness.setLocalState(state); // -> 'update' -> _sendAwareness
    else this._sendAwareness([this.doc.clientID]);
  }

  private _sendAwareness(clients: number[]): void {
    if (!this.wsconnected) return;
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
    // Fire and forget: awareness is ephemeral and the answer carries nothing we need.
    this._send('awareness:update', { resourceId: this.resourceId, update: toBase64(update) });
  }

  protected override _onDown(left: boolean): void {
    super._onDown(left);
    // Others' cursors are stale once we are not connected; the server sends them again on the next join.
    const others = Array.from(this.awareness.getStates().keys()).filter((c) => c !== this.doc.clientID);
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    this.awarenessSessions.clear();
  }

  protected override _onDestroy(): void {
    super._onDestroy();
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    this.awareness.off('update', this._onAwarenessUpdate);
  }
}
