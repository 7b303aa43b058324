// A real yjs document kept in sync with a CollabAkka resource over the real @microsoft/signalr client:
// join, doc:sync (step 1/2), send local updates as doc:update, apply remote doc:update events.
import * as Y from 'yjs';
import { Client } from './collab.mjs';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));

export class DocClient {
  constructor(client, resourceId, user) {
    this.resourceId = resourceId;
    this.user = user;
    this.doc = new Y.Doc();
    this.acked = [];
    this.online = true;
    // Local edits go out at once while online; offline they stay in the document and leave with the next sync.
    this.doc.on('update', (update, origin) => {
      if (origin !== 'remote' && this.online) this.#send(update);
    });
    this.#attach(client);
  }

  #attach(client) {
    this.client = client;
    client.connection.on('doc:update', (b) => {
      if (b.resourceId === this.resourceId) Y.applyUpdate(this.doc, unb64(b.payload.update), 'remote');
    });
  }

  static async open(userId, resourceId, { mode = 'editor', username = userId, role = 'doctor' } = {}) {
    const client = await Client.connect(userId, username, role);
    const dc = new DocClient(client, resourceId, { userId, username, role, mode });
    await dc.#join();
    return dc;
  }

  async #join() {
    this.joined = await this.client.join(this.resourceId, this.user.mode);
    if (!this.joined.success) throw new Error(`join failed: ${JSON.stringify(this.joined.error)}`);
    await this.sync();
  }

  /** The connection drops (the ward's Wi-Fi); the document stays and keeps taking edits. */
  async goOffline() {
    this.online = false;
    await this.pending;
    await this.client.stop();
  }

  /** A new connection as the same user: rejoin and sync both ways (sends everything typed offline). */
  async reconnect() {
    const { userId, username, role } = this.user;
    this.#attach(await Client.connect(userId, username, role));
    this.online = true;
    await this.#join();
  }

  #send(update) {
    const p = this.client.invoke('doc:update', { resourceId: this.resourceId, update: b64(update) });
    this.pending = (this.pending ?? Promise.resolve()).then(() => p);
    p.then((r) => { if (r.success) this.acked.push(r.newRevision); });
    return p;
  }

  /** Step 1/2: get what we lack, then send what the server lacks. */
  async sync() {
    const r = await this.client.invoke('doc:sync', { resourceId: this.resourceId, stateVector: b64(Y.encodeStateVector(this.doc)) });
    if (!r.success) throw new Error(`sync failed: ${JSON.stringify(r.error)}`);
    Y.applyUpdate(this.doc, unb64(r.data.update), 'remote');
    const missing = Y.encodeStateAsUpdate(this.doc, unb64(r.data.stateVector));
    if (missing.length > 2) {
      const ack = await this.#send(missing);
      if (!ack.success) throw new Error(`update failed: ${JSON.stringify(ack.error)}`);
    }
    return r;
  }

  /** Waits until every update sent so far is acknowledged. */
  async flush() { await this.pending; }

  text(name = 'notes') { return this.doc.getText(name); }

  async close() { await this.client.stop(); }
}

export { Y, b64, unb64 };
