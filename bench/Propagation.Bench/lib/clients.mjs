// The simulated users: one real WebSocket each, the production client libraries, the same Y.js work on both servers.
//   collab:      @microsoft/signalr (negotiate, then WebSockets; JSON hub protocol, or MessagePack with
//                --protocol msgpack) + yjs: resource:join {mode: editor}, doc:sync, every local Y.js update sent as
//                doc:update (base64 in JSON; bytes or base64 in MessagePack), remote doc:update events applied.
//                Ack = the answer (ApiResponse) of the doc:update invocation, sent once the update is durable.
//   hocuspocus:  @hocuspocus/provider (awareness off) over `ws` (the y-protocols sync messages, binary).
//                Ack = the server's SyncStatus message for the update, sent after applying it in memory.
// Each edit inserts a token "[client.seq]" at the client's own cursor (a relative position just after its previous
// token, so tokens never split); the tracker keeps the send time per token, and a receiver's Y.Text observer reads
// the tokens out of every remote change.
import * as Y from 'yjs';
import * as signalR from '@microsoft/signalr';
import { HocuspocusProvider } from '@hocuspocus/provider';
import WebSocket from 'ws';
import { devToken } from './servers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const fromWire = (v) => (typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : new Uint8Array(v));
const TOKEN = /\[(\d+)\.(\d+)\]/g;
// MessagePack hub protocol: our node writes the JSON names (camelCase, docs/PROTOCOL.md §1); either spelling is read
// so the generator also works with a .NET server that writes its DTOs' names as declared (PascalCase).
const pick = (o, k) => o?.[k] ?? o?.[k[0].toUpperCase() + k.slice(1)];

let msgpackProtocol = null;
async function hubProtocol(name) {
  if (name === 'json') return null;
  if (!msgpackProtocol) {
    const { MessagePackHubProtocol } = await import('@microsoft/signalr-protocol-msgpack');
    msgpackProtocol = MessagePackHubProtocol;
  }
  return new msgpackProtocol();
}

/** Measurement state of one worker's clients for one step: every token's send time and who got it. */
export class Tracker {
  constructor(othersPerDoc) {
    this.others = othersPerDoc;
    this.reset(false, 0);
  }

  reset(measuring, measureStart) {
    this.edits = new Map(); // "client.seq" -> {t, measured, recv, acked}
    this.prop = [];
    this.propSame = []; // sender and receiver on the same node (collab-cluster; every sample on one server)
    this.propCross = [];
    this.ack = [];
    this.lateness = [];
    this.sentMeasured = 0;
    this.errors = new Map();
    this.unknownTokens = 0;
    this.duplicates = 0;
    this.afterAck = 0;
    this.slow = new Map(); // measured second of the send -> deliveries slower than 100 ms
    this.measureStart = measureStart;
    this.measuring = measuring;
  }

  error(code) { this.errors.set(code, (this.errors.get(code) ?? 0) + 1); }

  received(text, now, node = 0) {
    for (const m of text.matchAll(TOKEN)) {
      const e = this.edits.get(`${m[1]}.${m[2]}`);
      if (!e) { this.unknownTokens++; continue; }
      if (++e.recv > this.others) this.duplicates++;
      if (e.measured) {
        const d = now - e.t;
        this.prop.push(d);
        (e.node === node ? this.propSame : this.propCross).push(d);
        if (d > 100) { const sec = Math.floor((e.t - this.measureStart) / 1000); this.slow.set(sec, (this.slow.get(sec) ?? 0) + 1); }
        if (e.ackAt !== undefined) this.afterAck++;
      }
    }
  }

  acked(e, now) {
    if (e.acked) return;
    e.acked = true;
    e.ackAt = now;
    if (e.measured) this.ack.push(now - e.t);
  }

  pending() {
    let recv = 0; let ack = 0; let deliveriesMissing = 0;
    for (const e of this.edits.values()) {
      if (!e.measured) continue;
      if (e.recv < this.others) { recv++; deliveriesMissing += this.others - e.recv; }
      if (!e.acked) ack++;
    }
    return { recv, ack, deliveriesMissing };
  }
}

class BenchClient {
  constructor(tracker, index, docName) {
    this.tracker = tracker;
    this.index = index;
    this.docName = docName;
    this.doc = new Y.Doc();
    this.text = this.doc.getText('notes');
    this.seq = 0;
    this.cursor = null;
    this.current = null;
    this.text.observe((ev) => {
      if (ev.transaction.local) return;
      const now = performance.now();
      for (const op of ev.delta) if (typeof op.insert === 'string') this.tracker.received(op.insert, now, this.node ?? 0);
    });
  }

  /** One keystroke burst: insert this client's next token at its cursor (the doc's update handler sends it). */
  edit(measured) {
    const seq = ++this.seq;
    const token = `[${this.index}.${seq}]`;
    const pos = this.cursor ? (Y.createAbsolutePositionFromRelativePosition(this.cursor, this.doc)?.index ?? 0) : 0;
    const entry = { t: performance.now(), measured, recv: 0, acked: false, node: this.node ?? 0 };
    this.tracker.edits.set(token.slice(1, -1), entry);
    if (measured) this.tracker.sentMeasured++;
    this.current = entry;
    this.text.insert(pos, token);
    this.current = null;
    this.cursor = Y.createRelativePositionFromTypeIndex(this.text, pos + token.length, -1);
  }
}

export class CollabClient extends BenchClient {
  /** options: {protocol: 'json'|'msgpack', updateEncoding: 'base64'|'bytes'} */
  async open(server, options) {
    const userId = `bench-u${this.index}-${Math.random().toString(36).slice(2, 8)}`;
    const token = await devToken(server.url, userId);
    const builder = new signalR.HubConnectionBuilder()
      .withUrl(`${server.url}/hubs/collab`, { accessTokenFactory: () => token, transport: signalR.HttpTransportType.WebSockets, skipNegotiation: false })
      .configureLogging(signalR.LogLevel.None);
    const protocol = await hubProtocol(options.protocol);
    if (protocol) builder.withHubProtocol(protocol);
    this.connection = builder.build();
    this.encode = options.updateEncoding === 'bytes' ? (u) => u : b64;
    this.requests = 0;
    const connected = new Promise((resolve) => this.connection.on('connected', resolve));
    this.connection.on('doc:update', (b) => {
      if (pick(b, 'resourceId') === this.docName) Y.applyUpdate(this.doc, fromWire(pick(pick(b, 'payload'), 'update')), 'remote');
    });
    this.connection.onclose(() => { if (!this.closing) this.tracker.error('connection closed'); });
    this.doc.on('update', (update, _origin, _doc, tr) => { if (tr.local) this.#send(update, this.current); });
    await this.connection.start();
    await connected;
    const joined = await this.#invoke('resource:join', { resourceId: this.docName, mode: 'editor' });
    if (!pick(joined, 'success')) throw new Error(`join ${this.docName}: ${JSON.stringify(joined.error)}`);
    const r = await this.#invoke('doc:sync', { resourceId: this.docName, stateVector: this.encode(Y.encodeStateVector(this.doc)) });
    if (!pick(r, 'success')) throw new Error(`sync ${this.docName}: ${JSON.stringify(r.error)}`);
    Y.applyUpdate(this.doc, fromWire(pick(pick(r, 'data'), 'update')), 'remote');
  }

  #invoke(method, body) {
    return this.connection.invoke(method, { requestId: `b${this.index}-${++this.requests}`, ...body });
  }

  #send(update, entry) {
    this.#invoke('doc:update', { resourceId: this.docName, update: this.encode(update) }).then(
      (r) => {
        const now = performance.now();
        if (pick(r, 'success')) { if (entry) this.tracker.acked(entry, now); } else this.tracker.error(pick(pick(r, 'error'), 'code') ?? 'error');
      },
      (err) => this.tracker.error(`invoke: ${String(err.message).slice(0, 60)}`),
    );
  }

  async close() { this.closing = true; await this.connection?.stop(); }
}

export class HocuspocusClient extends BenchClient {
  async open(server) {
    this.unacked = [];
    this.provider = new HocuspocusProvider({
      url: server.url, name: this.docName, document: this.doc, awareness: null, WebSocketPolyfill: WebSocket,
    });
    // SyncStatus messages answer the updates of one connection in order: pair them with the edits FIFO.
    const decrement = this.provider.decrementUnsyncedChanges.bind(this.provider);
    this.provider.decrementUnsyncedChanges = () => {
      if (this.typing) { const e = this.unacked.shift(); if (e) this.tracker.acked(e, performance.now()); }
      decrement();
    };
    this.doc.on('update', (_u, _origin, _doc, tr) => { if (tr.local && this.current) this.unacked.push(this.current); });
    this.provider.on('close', () => { if (!this.closing) this.tracker.error('connection closed'); });
    await new Promise((resolve) => { if (this.provider.synced) resolve(); else this.provider.on('synced', resolve); });
    const deadline = Date.now() + 10000;
    while (this.provider.hasUnsyncedChanges && Date.now() < deadline) await sleep(20);
    this.typing = true;
  }

  async close() { this.closing = true; this.provider?.destroy(); }
}
