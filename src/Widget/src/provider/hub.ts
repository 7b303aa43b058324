// The hub connection, in two sizes.
//
// HubSocket: the SignalR JSON hub protocol over one WebSocket, without negotiate (what the provider's
// default transport 'websockets' always did with @microsoft/signalr's skipNegotiation), in 4 KB minified
// instead of the 54 KB of the full client. Records are JSON texts ended by 0x1E:
//   handshake  -> {"protocol":"json","version":1}     <- {} or {"error":"..."}
//   invocation -> {"type":1,"invocationId":"7","target":"doc:sync","arguments":[{...}]}  (no id: fire and forget)
//   completion <- {"type":3,"invocationId":"7","result":{...}} or {...,"error":"..."}
//   event      <- {"type":1,"target":"doc:update","arguments":[{...}]}
//   ping       <-> {"type":6}     close <- {"type":7,"error":"...","allowReconnect":true}
// Keep-alive as in the full client: a ping after 10 s without sending, and the connection counts as dead
// after 30 s without hearing from the server (which pings every 15 s).
//
// transport 'auto' (negotiate, then WebSockets, Server-Sent Events or long polling) needs the full client:
// it is a separate chunk (collab-sdk.signalr.js, see chunks.ts), loaded only by providers that ask for it.
import { loadChunk } from '../chunks';

/** What the provider needs of a hub connection (a subset of @microsoft/signalr's HubConnection). */
export interface Hub {
  readonly state: string;
  on(target: string, handler: (...args: any[]) => void): void;
  onclose(callback: (error?: Error) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  invoke<T = any>(target: string, ...args: any[]): Promise<T>;
  send(target: string, ...args: any[]): Promise<void>;
}

export interface HubOptions {
  accessTokenFactory: () => string | Promise<string>;
  serverTimeoutMs?: number;
  keepAliveMs?: number;
}

const RS = '\x1e';

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void };

export class HubSocket implements Hub {
  state: 'Disconnected' | 'Connecting' | 'Connected' = 'Disconnected';
  private readonly _handlers = new Map<string, ((...args: any[]) => void)[]>();
  private readonly _closed: ((error?: Error) => void)[] = [];
  private readonly _pending = new Map<string, Pending>();
  private _ws: WebSocket | null = null;
  private _startFailed: ((error: Error) => void) | null = null;
  private _id = 0;
  private _buffer = '';
  private _serverTimer: ReturnType<typeof setTimeout> | undefined;
  private _pingTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly _serverTimeout: number;
  private readonly _keepAlive: number;

  constructor(private readonly _url: string, private readonly _opts: HubOptions) {
    this._serverTimeout = _opts.serverTimeoutMs ?? 30000;
    this._keepAlive = _opts.keepAliveMs ?? 10000;
  }

  on(target: string, handler: (...args: any[]) => void): void {
    const key = target.toLowerCase();
    this._handlers.set(key, (this._handlers.get(key) ?? []).concat([handler]));
  }

  onclose(callback: (error?: Error) => void): void {
    this._closed.push(callback);
  }

  async start(): Promise<void> {
    if (this.state !== 'Disconnected') throw new Error('The connection was already started.');
    this.state = 'Connecting';
    const token = await this._opts.accessTokenFactory();
    const url = new URL(this._url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('access_token', token);
    if (this.state !== 'Connecting') throw new Error('The connection was stopped while it started.');
    await new Promise<void>((resolve, reject) => {
      let handshaken = false;
      this._startFailed = reject;
      const ws = new WebSocket(url.href);
      this._ws = ws;
      ws.onopen = () => {
        this._resetServerTimer(); // also bounds the wait for the handshake answer
        ws.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
      };
      ws.onmessage = (e) => {
        if (typeof e.data !== 'string') return;
        this._resetServerTimer();
        this._buffer += e.data;
        const records = this._buffer.split(RS);
        this._buffer = records.pop() ?? ''; // an incomplete record waits for the rest
        for (const record of records) {
          let message: any;
          try {
            message = JSON.parse(record);
          } catch {
            this._close(new Error('The server sent a malformed message.'));
            return;
          }
          if (!handshaken) {
            handshaken = true;
            if (message.error) {
              this._close(new Error(`Handshake refused: ${message.error}`));
              return;
            }
            this._startFailed = null;
            this.state = 'Connected';
            this._resetPingTimer();
            resolve();
            continue;
          }
          this._dispatch(message);
        }
      };
      ws.onclose = (e) => {
        const error = e.wasClean && e.code === 1000 ? undefined : new Error(`WebSocket closed with status code ${e.code}${e.reason ? ` (${e.reason})` : ''}.`);
        this._close(error ?? (handshaken ? undefined : new Error('The connection closed before the handshake.')));
      };
      ws.onerror = () => {
        // onclose follows with the code
      };
    });
  }

  stop(): Promise<void> {
    this._close(undefined);
    return Promise.resolve();
  }

  invoke<T = any>(target: string, ...args: any[]): Promise<T> {
    const invocationId = String(++this._id);
    return new Promise<T>((resolve, reject) => {
      this._pending.set(invocationId, { resolve, reject });
      if (!this._write({ type: 1, invocationId, target, arguments: args })) {
        this._pending.delete(invocationId);
        reject(new Error("Cannot send data if the connection is not in the 'Connected' State."));
      }
    });
  }

  send(target: string, ...args: any[]): Promise<void> {
    return this._write({ type: 1, target, arguments: args })
      ? Promise.resolve()
      : Promise.reject(new Error("Cannot send data if the connection is not in the 'Connected' State."));
  }

  private _write(message: object): boolean {
    if (this.state !== 'Connected' || !this._ws || this._ws.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(message) + RS);
    this._resetPingTimer();
    return true;
  }

  private _dispatch(message: any): void {
    switch (message.type) {
      case 1: {
        for (const handler of this._handlers.get(String(message.target).toLowerCase()) ?? []) {
          try {
            handler(...(message.arguments ?? []));
          } catch (err) {
            setTimeout(() => {
              throw err;
            });
          }
        }
        break;
      }
      case 3: {
        const pending = this._pending.get(message.invocationId);
        if (!pending) break;
        this._pending.delete(message.invocationId);
        if (message.error) pending.reject(new Error(message.error));
        else pending.resolve(message.result);
        break;
      }
      case 7:
        this._close(message.error ? new Error(`Server closed the connection: ${message.error}`) : undefined);
        break;
      default:
        break; // 6 ping (the timer is reset on every message), stream items and acks are not used
    }
  }

  private _resetServerTimer(): void {
    clearTimeout(this._serverTimer);
    this._serverTimer = setTimeout(() => this._close(new Error(`Server timeout elapsed without receiving a message from the server.`)), this._serverTimeout);
  }

  private _resetPingTimer(): void {
    clearTimeout(this._pingTimer);
    this._pingTimer = setTimeout(() => this._write({ type: 6 }), this._keepAlive);
  }

  /** Ends the connection once: a start under way fails, pending invocations fail, onclose runs (only after a start). */
  private _close(error: Error | undefined): void {
    if (this.state === 'Disconnected') return;
    this.state = 'Disconnected';
    const startFailed = this._startFailed;
    this._startFailed = null;
    clearTimeout(this._serverTimer);
    clearTimeout(this._pingTimer);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    }
    const pending = Array.from(this._pending.values());
    this._pending.clear();
    for (const p of pending) p.reject(error ?? new Error('Invocation canceled due to the underlying connection being closed.'));
    if (startFailed) startFailed(error ?? new Error('The connection was stopped while it started.'));
    else for (const cb of this._closed) cb(error);
  }
}

/** transport 'auto': the full @microsoft/signalr client, from its own chunk. */
export async function fullSignalRHub(url: string, opts: HubOptions, chunkBase?: string): Promise<Hub> {
  const signalr = await loadChunk('signalr', chunkBase);
  const connection = new signalr.HubConnectionBuilder()
    .withUrl(url, { accessTokenFactory: opts.accessTokenFactory })
    .configureLogging(signalr.LogLevel.None)
    .build();
  connection.serverTimeoutInMilliseconds = opts.serverTimeoutMs ?? 30000;
  connection.keepAliveIntervalInMilliseconds = opts.keepAliveMs ?? 10000;
  return connection;
}
