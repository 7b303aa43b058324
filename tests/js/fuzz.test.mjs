// Bounded, seeded fuzz of the hub (issue 12): mutated frames over every hub method, mutated Y.js updates,
// awareness updates and state vectors, and fuzzed HTTP reads, against a node in its own process.
// Asserts: the process stays up, every invocation is answered (no hang) with an ApiResponse that is never
// INTERNAL_ERROR, the connection survives, no HTTP 5xx, and every document stays readable and equal to what
// real yjs rebuilds from doc:sync.
//   FUZZ_FRAMES (default 20000), FUZZ_SEED (default 20261201).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 20000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const b64 = (u8) => Buffer.from(u8).toString('base64');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

function rng(seed) { // mulberry32
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)], chance: (p) => next() < p };
}

const freePort = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });

async function startNode() {
  const dll = process.env.COLLAB_NODE_DLL ?? path.join(repo, 'src/Node/bin/Release/net10.0/CollabAkka.Node.dll');
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-fuzz-'));
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn('dotnet', [dll, '--urls', url, '--Collab:Profile=embedded', `--Collab:DataDir=${data}`, '--Collab:ConsoleLogs=false',
    `--Collab:ResourcesFile=${path.join(repo, 'config/resources.yml')}`,
    '--Collab:Connections:InvocationsPerSecond=100000', '--Collab:Connections:InvocationBurst=100000',
    '--Collab:Connections:MaxConnectionsPerUser=20', '--Collab:Security:UnauthenticatedRequestsPerIpPerSecond=100000',
    '--Collab:Security:UnauthenticatedRequestBurst=100000', ...(process.env.FUZZ_NODE_ARGS ?? '').split(' ').filter(Boolean)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = null;
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  for (let i = 0; i < 600; i++) {
    if (exited) throw new Error(`node exited while starting: ${JSON.stringify(exited)} ${stderr}`);
    try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100)); // polling a process that has no other readiness signal
  }
  return { url, proc, data, alive: () => exited === null, exitInfo: () => ({ exited, stderr }), stop: async () => { proc.kill('SIGKILL'); await new Promise((r) => proc.exitCode !== null || proc.signalCode ? r() : proc.once('exit', r)); if (process.env.FUZZ_KEEP) console.log('# kept ' + data); else fs.rmSync(data, { recursive: true, force: true }); } };
}

async function token(url, userId, role = 'doctor') {
  const res = await fetch(`${url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, username: userId, role }) });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

async function connect(url, tok) {
  const connection = new signalR.HubConnectionBuilder().withUrl(`${url}/hubs/collab`, { accessTokenFactory: () => tok, transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true })
    .configureLogging(signalR.LogLevel.None).build();
  connection.on('connected', () => {});
  for (const e of ['error', 'user:joined', 'user:left', 'resource:all_users', 'lock:acquired', 'lock:released', 'lock:expired', 'lock:renewed', 'doc:update', 'awareness:update', 'resource:updated', 'state:changed']) connection.on(e, () => {});
  await connection.start();
  return connection;
}

// ---- mutations --------------------------------------------------------------------------------------------
function mutateBytes(r, bytes) {
  const out = Array.from(bytes);
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    switch (r.int(7)) {
      case 0: if (out.length) out[r.int(out.length)] = r.int(256); break; // flip a byte
      case 1: out.splice(r.int(out.length + 1), 0, ...Array.from({ length: 1 + r.int(8) }, () => r.int(256))); break; // insert
      case 2: if (out.length) out.splice(r.int(out.length), 1 + r.int(8)); break; // delete
      case 3: out.length = r.int(out.length + 1); break; // truncate
      case 4: out.splice(r.int(out.length + 1), 0, 0xff, 0xff, 0xff, 0xff, 0x0f); break; // a huge varuint
      case 5: if (out.length) out[r.int(out.length)] ^= 1 << r.int(8); break; // bit flip
      case 6: out.push(...Array.from({ length: r.int(32) }, () => r.int(256))); break; // trailing junk
    }
  }
  return new Uint8Array(out);
}

const weirdStrings = ['', ' ', '\ud800', 'a\udfffb', 'x'.repeat(5000), '../../etc/passwd', 'document:1/tab:%00', 'document:\u0000', '💉', 'document:' + 'a'.repeat(400), '<script>', 'null'];
function weirdValue(r, depth = 0) {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.pick([true, false]);
    case 2: return r.pick([0, -1, 1e308, -0, 2 ** 53 + 1, 3.14]);
    case 3: return r.pick(weirdStrings);
    case 4: return 'x'.repeat(r.int(100));
    case 5: return b64(Array.from({ length: r.int(64) }, () => r.int(256)));
    case 6: return Array.from({ length: r.int(4) }, () => weirdValue(r, depth + 1));
    case 7: { const o = {}; for (let i = 0; i < r.int(4); i++) o[r.pick(['resourceId', 'requestId', 'mode', 'update', 'stateVector', 'field', 'value', 'revision', 'ttlSeconds', 'reason', 'lockId', 'x'])] = weirdValue(r, depth + 1); return o; }
    default: { let v = 1; for (let i = 0; i < 30 + r.int(28); i++) v = [v]; return v; } // deep JSON (SignalR closes connections on frames deeper than 64: not ours to fuzz)
  }
}

function mutateRequest(r, body) {
  const b = { ...body };
  const keys = Object.keys(b);
  switch (r.int(4)) {
    case 0: if (keys.length) delete b[r.pick(keys)]; break;
    case 1: if (keys.length) b[r.pick(keys)] = weirdValue(r); break;
    case 2: b[r.pick(['extra', 'requestId', 'resourceId'])] = weirdValue(r); break;
    case 3: return weirdValue(r); // not even an object
  }
  return b;
}

test(`fuzzed hub frames (${FRAMES}, seed ${SEED}) never crash, hang or fail internally, and documents stay equal to yjs`, { timeout: 15 * 60 * 1000 }, async () => {
  const r = rng(SEED);
  const node = await startNode();
  const stats = { frames: 0, ok: 0, refused: {}, protocol: 0, http: 0 };
  const editors = [];
  try {
    const caps = await (await fetch(`${node.url}/api/capabilities`)).json();
    const methods = caps.hub.methods;
    const docs = Array.from({ length: 4 }, (_, i) => `patient-chart:fuzz-${SEED}-${i}`);
    for (let i = 0; i < docs.length; i++) {
      const tok = await token(node.url, `fuzz-editor-${i}`);
      const connection = await connect(node.url, tok);
      const join = await connection.invoke('resource:join', { resourceId: docs[i], mode: 'editor', requestId: `j${i}` });
      assert.equal(join.success, true, JSON.stringify(join));
      const ydoc = new Y.Doc();
      const awareness = new awarenessProtocol.Awareness(ydoc);
      editors.push({ connection, doc: docs[i], ydoc, awareness, token: tok });
    }
    const viewerToken = await token(node.url, 'fuzz-viewer', 'nurse');
    const viewer = await connect(node.url, viewerToken);
    for (const d of docs) await viewer.invoke('resource:join', { resourceId: d, mode: 'viewer', requestId: 'v' });
    const reader = await token(node.url, 'fuzz-reader', 'doctor');

    function validEdit(e) {
      const before = Y.encodeStateVector(e.ydoc);
      const t = e.ydoc.getText('notes');
      const m = e.ydoc.getMap('form');
      const a = e.ydoc.getArray('items');
      switch (r.int(6)) {
        case 0: t.insert(r.int(t.length + 1), r.pick(['BP ', '120/80 ', 'é', '💉', 'x'.repeat(r.int(20))])); break;
        case 1: if (t.length) t.delete(r.int(t.length), 1 + r.int(3)); else t.insert(0, 'start'); break;
        case 2: m.set(r.pick(['dose', 'route', 'freq']), r.pick(['5 mg', 10, true, null, { a: [1, 2] }])); break;
        case 3: { let cur = m; for (let i = 0; i < r.int(5); i++) { const next = cur.get('nested'); if (next instanceof Y.Map) cur = next; else { const n = new Y.Map(); cur.set('nested', n); cur = n; } } cur.set('v', r.int(100)); break; }
        case 4: a.insert(r.int(a.length + 1), [r.pick(['a', 1, { k: 'v' }])]); break;
        case 5: if (a.length) a.delete(r.int(a.length), 1); break;
      }
      return Y.encodeStateAsUpdate(e.ydoc, before);
    }

    function frame() {
      const e = r.pick(editors);
      const kind = r.int(10);
      const requestId = r.chance(0.05) ? r.pick(weirdStrings) : `f${stats.frames}`;
      if (kind <= 2) { // a Y.js update: valid, mutated, or from another client's view
        const update = validEdit(e);
        const bytes = r.chance(0.5) ? mutateBytes(r, update) : update;
        return [e.connection, 'doc:update', { resourceId: e.doc, requestId, update: b64(bytes) }];
      }
      if (kind === 3) { // a state vector
        const sv = Y.encodeStateVector(e.ydoc);
        return [r.chance(0.5) ? e.connection : viewer, 'doc:sync', { resourceId: e.doc, requestId, stateVector: b64(r.chance(0.7) ? mutateBytes(r, sv) : sv) }];
      }
      if (kind === 4) { // an awareness update
        e.awareness.setLocalState(r.chance(0.9) ? { user: { id: 'x', name: r.pick(weirdStrings), color: r.pick(['#123456', 'url(http://evil)']) }, focus: r.pick(['notes', 'dose']) } : null);
        const update = awarenessProtocol.encodeAwarenessUpdate(e.awareness, [e.ydoc.clientID]);
        return [r.chance(0.5) ? e.connection : viewer, 'awareness:update', { resourceId: e.doc, requestId, update: b64(r.chance(0.5) ? mutateBytes(r, update) : update) }];
      }
      if (kind === 5) { // a viewer trying to write
        return [viewer, 'doc:update', { resourceId: e.doc, requestId, update: b64(validEdit(e)) }];
      }
      // any method, with a mutated request
      const method = r.pick(methods);
      const base = { resourceId: r.chance(0.8) ? e.doc : r.pick(weirdStrings), requestId, mode: 'editor', update: b64(validEdit(e)), stateVector: '', field: r.pick(['notes', 'form.dose', 'x'.repeat(200)]), value: weirdValue(r), revision: r.int(5), ttlSeconds: r.pick([1, -1, 1e9]), reason: r.pick(weirdStrings) };
      return [r.chance(0.5) ? e.connection : viewer, method, mutateRequest(r, base)];
    }

    async function send([connection, method, body]) {
      stats.frames++;
      let reply;
      let timer;
      try {
        reply = await Promise.race([
          connection.invoke(method, body),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: ${method} not answered within 15 s`)), 15000); }),
        ]);
      } catch (err) {
        if (/hang/.test(String(err))) throw err;
        clearTimeout(timer);
        stats.protocol++; // refused by SignalR's binder (not an ApiResponse): fine, but the connection must survive
        assert.equal(connection.state, signalR.HubConnectionState.Connected, `connection lost after ${method} ${JSON.stringify(body)?.slice(0, 400)}: ${err}`);
        return;
      }
      clearTimeout(timer);
      assert.equal(typeof reply?.success, 'boolean', `${method} answered ${JSON.stringify(reply)?.slice(0, 200)}`);
      if (reply.success) stats.ok++;
      else {
        assert.notEqual(reply.error?.code, 'INTERNAL_ERROR', `${method} ${JSON.stringify({ ...body, update: undefined, stateVector: undefined })?.slice(0, 600)} -> ${JSON.stringify(reply.error)}`);
        stats.refused[reply.error.code] = (stats.refused[reply.error.code] ?? 0) + 1;
        const own = editors.find((e) => e.connection === connection);
        if (reply.error.code === 'NOT_JOINED' && own) await connection.invoke('resource:join', { resourceId: own.doc, mode: 'editor', requestId: 'rejoin' }); // a fuzzed leave: back in
      }
    }

    async function httpProbe() {
      const d = r.pick([...docs, r.pick(weirdStrings).replace(/[\ud800-\udfff]/g, '?')]);
      const paths = [`/api/resources/${encodeURIComponent(d)}/content`, `/api/resources/${encodeURIComponent(d)}/content?revision=${r.pick([0, 1, -1, 'x', 99999999999])}`,
        `/api/resources/${encodeURIComponent(d)}/history?after=${r.pick(['x', 0, -5])}&limit=${r.pick([0, 1, 1e9])}`, `/api/resources/${encodeURIComponent(d)}`];
      const res = await fetch(node.url + r.pick(paths), { headers: r.chance(0.8) ? { authorization: `Bearer ${reader}` } : {} });
      stats.http++;
      assert.ok(res.status < 500, `HTTP ${res.status} for ${res.url}`);
      await res.arrayBuffer();
    }

    const started = Date.now();
    const inFlight = 24;
    let i = 0;
    while (i < FRAMES) {
      const batch = [];
      for (let k = 0; k < inFlight && i < FRAMES; k++, i++) batch.push(send(frame()));
      if (r.chance(0.2)) batch.push(httpProbe());
      await Promise.all(batch);
      if (!node.alive()) assert.fail(`the node process died: ${JSON.stringify(node.exitInfo())}`);
    }
    const seconds = (Date.now() - started) / 1000;

    // Every document: readable, and equal to what real yjs rebuilds from doc:sync.
    const checker = await connect(node.url, await token(node.url, 'fuzz-checker', 'doctor'));
    for (const d of docs) {
      await checker.invoke('resource:join', { resourceId: d, mode: 'viewer', requestId: 'c' });
      const sync = await checker.invoke('doc:sync', { resourceId: d, requestId: 's', stateVector: '' });
      assert.equal(sync.success, true, JSON.stringify(sync.error));
      const rebuilt = new Y.Doc();
      Y.applyUpdate(rebuilt, unb64(sync.data.update));
      const res = await fetch(`${node.url}/api/resources/${encodeURIComponent(d)}/content`, { headers: { authorization: `Bearer ${reader}` } });
      assert.equal(res.status, 200);
      const server = (await res.json()).content;
      const expected = {};
      for (const [name, value] of Object.entries(server)) {
        expected[name] = typeof value === 'string' ? rebuilt.getText(name).toString() : Array.isArray(value) ? rebuilt.getArray(name).toJSON() : rebuilt.getMap(name).toJSON();
      }
      assert.deepEqual(server, expected, `document ${d} differs from what yjs rebuilds`);
      assert.equal(rebuilt.store.pendingStructs, null, `doc:sync of ${d} handed out structs yjs cannot integrate`);
    }
    await checker.stop();
    assert.ok(node.alive(), 'the node process died');
    console.log(`fuzz: ${stats.frames} frames in ${seconds.toFixed(1)} s (${Math.round(stats.frames / seconds)}/s), ok ${stats.ok}, refused ${JSON.stringify(stats.refused)}, binder ${stats.protocol}, http ${stats.http}, seed ${SEED}`);
    for (const e of editors) await e.connection.stop();
    await viewer.stop();
  } finally {
    for (const e of editors) e.awareness.destroy(); // its outdated-state timer would keep the process alive
    await node.stop();
  }
});
