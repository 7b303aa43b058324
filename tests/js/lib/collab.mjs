// Test helpers: the real @microsoft/signalr client against a started CollabAkka node (COLLAB_URL).
import * as signalR from '@microsoft/signalr';

export const baseUrl = process.env.COLLAB_URL ?? 'http://127.0.0.1:5000';

export const EVENTS = ['connected', 'error', 'user:joined', 'user:left', 'resource:all_users', 'lock:acquired',
  'lock:released', 'lock:expired', 'lock:renewed', 'doc:update', 'awareness:update', 'resource:updated', 'state:changed'];

export function unique(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 10)}`;
}

export async function devToken(userId, username = userId, role = 'doctor') {
  const res = await fetch(`${baseUrl}/dev/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, username, role }),
  });
  if (!res.ok) throw new Error(`dev token: HTTP ${res.status}`);
  return (await res.json()).token;
}

/** A connected client that records every event and lets a test await the one it expects. */
export class Client {
  constructor(connection) {
    this.connection = connection;
    this.events = [];
    this.waiters = [];
    this.requests = 0;
    for (const name of EVENTS) connection.on(name, (body) => this.#record(name, body));
    this.closed = new Promise((resolve) => connection.onclose((err) => resolve(err ?? null)));
  }

  static async connect(userId, username = userId, role = 'doctor', options = {}) {
    const token = options.token ?? await devToken(userId, username, role);
    const builder = new signalR.HubConnectionBuilder()
      .withUrl(`${baseUrl}/hubs/collab`, { accessTokenFactory: () => token, ...(options.http ?? {}) })
      .configureLogging(signalR.LogLevel.None);
    if (options.protocol) builder.withHubProtocol(options.protocol); // e.g. the MessagePack hub protocol
    const client = new Client(builder.build());
    await client.connection.start();
    client.connected = await client.waitFor('connected');
    return client;
  }

  #record(name, body) {
    const entry = { name, body, consumed: false };
    this.events.push(entry);
    for (const w of [...this.waiters]) {
      if (!entry.consumed && w.name === name && w.predicate(body)) {
        entry.consumed = true;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(body);
      }
    }
  }

  /** Resolves with the first unconsumed event of that name matching predicate (already received or future). */
  waitFor(name, predicate = () => true, timeoutMs = 10000) {
    const found = this.events.find((e) => !e.consumed && e.name === name && predicate(e.body));
    if (found) { found.consumed = true; return Promise.resolve(found.body); }
    return new Promise((resolve, reject) => {
      const waiter = { name, predicate, resolve };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no '${name}' within ${timeoutMs} ms; got: ${this.events.map((e) => e.name).join(', ')}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  invoke(method, body = {}) {
    return this.connection.invoke(method, { requestId: `js-${++this.requests}`, ...body });
  }

  join(resourceId, mode = 'editor') { return this.invoke('resource:join', { resourceId, mode }); }
  leave(resourceId) { return this.invoke('resource:leave', { resourceId }); }
  stop() { return this.connection.stop(); }
}
