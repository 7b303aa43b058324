// The chunk collab-sdk.signalr.js: the full @microsoft/signalr client, for transport 'auto' only
// (negotiate; WebSockets, Server-Sent Events or long polling). Loaded by chunks.ts, never bundled.
import { HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { CHUNK_GLOBAL } from '../chunks';

export const signalr = { HubConnectionBuilder, LogLevel };

const g = globalThis as unknown as Record<string, Record<string, unknown> | undefined>;
(g[CHUNK_GLOBAL] ??= {}).signalr = signalr;
