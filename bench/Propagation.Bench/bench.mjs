// Co-editing propagation benchmark (issue 5, acceptance 6): N clients in D documents each type R updates/s into one
// Y.Text; measures, per update, the time from the sender's local edit to the moment the text is in every other
// member's Y.Doc (propagation), and to the sender's acknowledgement (ack), through one server.
//
//   node bench/Propagation.Bench/bench.mjs [options]
//     --targets collab,hocuspocus   servers to measure, in this order, each round (default: collab)
//                                   collab: a CollabAkka node as its own process (the Release build of src/Node)
//                                   hocuspocus: @hocuspocus/server (in memory) in its own Node process
//     --rounds N          repeat the targets N times, alternating (default 1)
//     --clients N         connections, one user each (default 100)      --docs D   documents (default 20)
//     --rate R            updates per second per client (default 5)
//     --duration S        measured seconds (default 30)                 --warmup S unmeasured typing first (default 5)
//     --node-dll PATH     the node to start (default src/Node/bin/Release/net10.0/CollabAkka.Node.dll; build it with
//                         `dotnet build src/Node -c Release`)
//     --node-arg K=V      extra node configuration, repeatable
//     --data-root DIR     where the node's temporary data directory (SQLite file) is made (default: the system temp
//                         folder); e.g. /dev/shm to see what the disk adds
//     --collab-url URL    use a running node instead of starting one (no CPU figure)
//     --json FILE         also write every result as JSON
//
// Clients are the production ones, one real WebSocket each, all in this process (one clock, performance.now()):
//   collab: @microsoft/signalr (negotiate, then WebSockets) + yjs: resource:join {mode: editor} on a ward-board
//           resource (admits 20 editors), doc:sync, then every local Y.js update is sent as doc:update; remote
//           doc:update events are applied to the client's Y.Doc. Ack = the doc:update invocation's answer (sent once
//           the update is durable in SQLite).
//   hocuspocus: @hocuspocus/provider (awareness off) over `ws`. Ack = the server's SyncStatus message for the
//           update (the provider's unsyncedChanges counter; Hocuspocus sends it after applying in memory).
// Each edit inserts a token "[ccc.sssss]" (client, sequence) at the client's own cursor (a relative position after
// its previous token, so tokens never split); the send time is kept per token. A receiver's Y.Text observer reads
// the inserted strings of each remote change and records now - sendTime per token it finds. Typing is open-loop:
// each client edits every 1/R s from a random phase whether or not earlier edits were answered.
// At the end: wait until every measured edit reached all other members and was acknowledged (at most 20 s), then
// check convergence: every client's text equals the server's (collab: GET /api/resources/{id}/content with an
// auditor token; hocuspocus: the server process's GET /content).
import { spawn, execSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import * as Y from 'yjs';
import * as signalR from '@microsoft/signalr';
import { HocuspocusProvider } from '@hocuspocus/provider';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

function parseArgs(argv) {
  const o = {
    targets: ['collab'], rounds: 1, clients: 100, docs: 20, rate: 5, duration: 30, warmup: 5,
    dataRoot: os.tmpdir(), nodeDll: path.join(repoRoot, 'src/Node/bin/Release/net10.0/CollabAkka.Node.dll'), nodeArgs: [], collabUrl: null, json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const next = () => argv[++i];
    switch (argv[i]) {
      case '--targets': o.targets = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--rounds': o.rounds = Number(next()); break;
      case '--clients': o.clients = Number(next()); break;
      case '--docs': o.docs = Number(next()); break;
      case '--rate': o.rate = Number(next()); break;
      case '--duration': o.duration = Number(next()); break;
      case '--warmup': o.warmup = Number(next()); break;
      case '--node-dll': o.nodeDll = path.resolve(next()); break;
      case '--data-root': o.dataRoot = next(); break;
      case '--node-arg': o.nodeArgs.push(next()); break;
      case '--collab-url': o.collabUrl = next(); break;
      case '--json': o.json = next(); break;
      default: throw new Error(`Unknown option ${argv[i]}`);
    }
  }
  for (const t of o.targets) if (t !== 'collab' && t !== 'hocuspocus') throw new Error(`Unknown target ${t}`);
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));
const TOKEN = /\[(\d{3})\.(\d{5})\]/g;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// ---- CPU and memory of a process, from /proc ----
const clockTicks = (() => { try { return Number(execSync('getconf CLK_TCK').toString().trim()) || 100; } catch { return 100; } })();
function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime + stime
  } catch { return NaN; }
}
function procRssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

async function waitHttp(url, proc, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} while starting`);
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within 60 s`);
}

function stopProcess(proc) {
  return new Promise((resolve) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30000);
    proc.once('exit', () => { clearTimeout(timer); resolve(); });
    proc.kill('SIGTERM');
  });
}

// ---- servers ----
async function startCollab(o) {
  if (o.collabUrl) return { name: 'collab', url: o.collabUrl.replace(/\/$/, ''), pid: null, stop: async () => {} };
  if (!fs.existsSync(o.nodeDll)) throw new Error(`${o.nodeDll} not found: dotnet build src/Node -c Release`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(o.dataRoot, 'propagation-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const args = [o.nodeDll, '--urls', url, '--Collab:Profile=embedded', `--Collab:DataDir=${dataDir}`, '--Collab:ConsoleLogs=false',
    `--Collab:ResourcesFile=${path.join(repoRoot, 'config/resources.yml')}`, ...o.nodeArgs.map((kv) => `--${kv}`)];
  const proc = spawn('dotnet', args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  try { await waitHttp(`${url}/health`, proc, 'the node'); } catch (e) { proc.kill('SIGKILL'); throw new Error(`${e.message}\n${stderr}`); }
  return {
    name: 'collab', url, pid: proc.pid,
    stop: async () => { await stopProcess(proc); fs.rmSync(dataDir, { recursive: true, force: true }); },
  };
}

async function startHocuspocus() {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(here, 'hocuspocus-server.mjs'), String(port)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; if (out.includes('listening')) resolve(); });
    proc.once('exit', (code) => reject(new Error(`hocuspocus exited with ${code}: ${stderr}`)));
  });
  return { name: 'hocuspocus', url: `ws://127.0.0.1:${port}`, httpUrl: `http://127.0.0.1:${port}`, pid: proc.pid, stop: () => stopProcess(proc) };
}

async function devToken(baseUrl, userId, role = 'doctor') {
  const r = await fetch(`${baseUrl}/dev/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, username: userId, role }),
  });
  if (!r.ok) throw new Error(`dev token: HTTP ${r.status}`);
  return (await r.json()).token;
}

// ---- measurement state shared by all clients of one run ----
class Run {
  constructor(membersPerDoc) {
    this.others = membersPerDoc - 1;
    this.edits = new Map(); // token id -> {t, measured, recv, acked}
    this.prop = [];
    this.ack = [];
    this.sentMeasured = 0;
    this.sentTotal = 0;
    this.errors = new Map();
    this.unknownTokens = 0;
    this.duplicates = 0;
    this.slow = new Map(); // measured second of the send -> deliveries slower than 50 ms
    this.measureStart = 0;
    this.afterAck = 0; // measured deliveries that arrived after the sender already had its ack
    this.closed = 0;
    this.lateness = [];
  }

  error(code) { this.errors.set(code, (this.errors.get(code) ?? 0) + 1); }

  received(text, now) {
    for (const m of text.matchAll(TOKEN)) {
      const e = this.edits.get(`${m[1]}.${m[2]}`);
      if (!e) { this.unknownTokens++; continue; }
      if (++e.recv > this.others) this.duplicates++;
      if (e.measured) {
        this.prop.push(now - e.t);
        if (now - e.t > 50) { const sec = Math.floor((e.t - this.measureStart) / 1000); this.slow.set(sec, (this.slow.get(sec) ?? 0) + 1); }
        if (e.ackAt !== undefined) this.afterAck++;
      }
    }
  }

  acked(e, now) {
    e.acked = true;
    e.ackAt = now;
    if (e.measured) this.ack.push(now - e.t);
  }

  pending() {
    let recv = 0; let ack = 0;
    for (const e of this.edits.values()) {
      if (!e.measured) continue;
      if (e.recv < this.others) recv++;
      if (!e.acked) ack++;
    }
    return { recv, ack };
  }
}

class BenchClient {
  constructor(run, index, docName) {
    this.run = run;
    this.index = index;
    this.docName = docName;
    this.doc = new Y.Doc();
    this.text = this.doc.getText('notes');
    this.seq = 0;
    this.cursor = null;
    this.text.observe((ev) => {
      if (ev.transaction.local) return;
      const now = performance.now();
      for (const op of ev.delta) if (typeof op.insert === 'string') this.run.received(op.insert, now);
    });
  }

  /** One keystroke burst: insert this client's next token at its cursor (sent by the doc's update handler). */
  edit(measured) {
    const seq = ++this.seq;
    const token = `[${String(this.index).padStart(3, '0')}.${String(seq).padStart(5, '0')}]`;
    const pos = this.cursor ? (Y.createAbsolutePositionFromRelativePosition(this.cursor, this.doc)?.index ?? 0) : 0;
    const entry = { t: performance.now(), measured, recv: 0, acked: false };
    this.run.edits.set(token.slice(1, -1), entry);
    this.run.sentTotal++;
    if (measured) this.run.sentMeasured++;
    this.current = entry;
    this.text.insert(pos, token);
    this.current = null;
    this.cursor = Y.createRelativePositionFromTypeIndex(this.text, pos + token.length, -1);
  }
}

class CollabClient extends BenchClient {
  async open(server) {
    const userId = `bench-u${String(this.index).padStart(3, '0')}-${Math.random().toString(36).slice(2, 8)}`;
    const token = await devToken(server.url, userId);
    this.connection = new signalR.HubConnectionBuilder()
      .withUrl(`${server.url}/hubs/collab`, { accessTokenFactory: () => token, transport: signalR.HttpTransportType.WebSockets })
      .configureLogging(signalR.LogLevel.None)
      .build();
    this.requests = 0;
    const connected = new Promise((resolve) => this.connection.on('connected', resolve));
    this.connection.on('doc:update', (b) => {
      if (b.resourceId === this.docName) Y.applyUpdate(this.doc, unb64(b.payload.update), 'remote');
    });
    this.connection.onclose(() => { if (!this.closing) { this.run.closed++; this.run.error('connection closed'); } });
    this.doc.on('update', (update, origin, _doc, tr) => { if (tr.local) this.#send(update, this.current); });
    await this.connection.start();
    await connected;
    const joined = await this.#invoke('resource:join', { resourceId: this.docName, mode: 'editor' });
    if (!joined.success) throw new Error(`join ${this.docName}: ${JSON.stringify(joined.error)}`);
    const r = await this.#invoke('doc:sync', { resourceId: this.docName, stateVector: b64(Y.encodeStateVector(this.doc)) });
    if (!r.success) throw new Error(`sync ${this.docName}: ${JSON.stringify(r.error)}`);
    Y.applyUpdate(this.doc, unb64(r.data.update), 'remote');
  }

  #invoke(method, body) {
    return this.connection.invoke(method, { requestId: `b${this.index}-${++this.requests}`, ...body });
  }

  #send(update, entry) {
    this.#invoke('doc:update', { resourceId: this.docName, update: b64(update) }).then(
      (r) => {
        const now = performance.now();
        if (r.success) { if (entry) this.run.acked(entry, now); } else this.run.error(r.error?.code ?? 'error');
      },
      (err) => this.run.error(`invoke: ${err.message.slice(0, 60)}`),
    );
  }

  async close() { this.closing = true; await this.connection.stop(); }
}

class HocuspocusClient extends BenchClient {
  async open(server) {
    this.unacked = [];
    this.provider = new HocuspocusProvider({
      url: server.url, name: this.docName, document: this.doc, awareness: null, WebSocketPolyfill: WebSocket,
    });
    // SyncStatus messages answer the updates of one connection in order: pair them with the edits FIFO.
    const decrement = this.provider.decrementUnsyncedChanges.bind(this.provider);
    this.provider.decrementUnsyncedChanges = () => {
      if (this.typing) { const e = this.unacked.shift(); if (e) this.run.acked(e, performance.now()); }
      decrement();
    };
    this.doc.on('update', (_u, origin, _doc, tr) => { if (tr.local && this.current) this.unacked.push(this.current); });
    this.provider.on('close', () => { if (!this.closing) { this.run.closed++; this.run.error('connection closed'); } });
    await new Promise((resolve) => { if (this.provider.synced) resolve(); else this.provider.on('synced', resolve); });
    const deadline = Date.now() + 10000;
    while (this.provider.hasUnsyncedChanges && Date.now() < deadline) await sleep(20);
    this.typing = true;
  }

  async close() { this.closing = true; this.provider.destroy(); }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function summary(values) {
  const s = Float64Array.from(values).sort();
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean };
}

async function runOnce(o, target, round) {
  const server = target === 'collab' ? await startCollab(o) : await startHocuspocus();
  const membersPerDoc = Math.ceil(o.clients / o.docs);
  const run = new Run(membersPerDoc);
  const tag = Math.random().toString(36).slice(2, 8);
  const docName = (d) => (target === 'collab' ? `ward-board:bench-${tag}-${d}` : `bench-${tag}-${d}`);
  const clients = [];
  try {
    // Connect and sync, 10 at a time.
    for (let i = 0; i < o.clients; i += 10) {
      const batch = [];
      for (let j = i; j < Math.min(o.clients, i + 10); j++) {
        const c = target === 'collab' ? new CollabClient(run, j, docName(j % o.docs)) : new HocuspocusClient(run, j, docName(j % o.docs));
        clients.push(c);
        batch.push(c.open(server));
      }
      await Promise.all(batch);
    }
    await sleep(1000);

    const interval = 1000 / o.rate;
    const t0 = performance.now() + 100;
    const measureStart = t0 + o.warmup * 1000;
    const measureEnd = measureStart + o.duration * 1000;
    run.measureStart = measureStart;
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    let cpuStart = null;
    let cpuEnd = null;
    const sample = () => ({ at: performance.now(), server: server.pid ? procCpuMs(server.pid) : NaN, client: process.cpuUsage() });
    setTimeout(() => { cpuStart = sample(); loopDelay.enable(); }, measureStart - performance.now());
    setTimeout(() => { cpuEnd = sample(); loopDelay.disable(); }, measureEnd - performance.now());

    await Promise.all(clients.map((c) => new Promise((resolve) => {
      let due = t0 + Math.random() * interval;
      const tick = () => {
        const now = performance.now();
        if (due >= measureEnd) { resolve(); return; }
        const measured = due >= measureStart;
        if (measured) run.lateness.push(now - due);
        c.edit(measured);
        due += interval;
        setTimeout(tick, Math.max(0, due - performance.now()));
      };
      setTimeout(tick, Math.max(0, due - performance.now()));
    })));

    // Drain: every measured edit delivered to all other members and acknowledged.
    const drainStart = performance.now();
    let pending = run.pending();
    while ((pending.recv > 0 || pending.ack > 0) && performance.now() - drainStart < 20000) {
      await sleep(100);
      pending = run.pending();
    }
    await sleep(500);

    // Convergence: every client's text equals the server's.
    let converged = 0; let diverged = 0; const divergedDocs = [];
    const auditor = target === 'collab' ? await devToken(server.url, `bench-auditor-${tag}`, 'auditor') : null;
    for (let d = 0; d < o.docs; d++) {
      let serverText;
      if (target === 'collab') {
        const r = await fetch(`${server.url}/api/resources/${docName(d)}/content`, { headers: { authorization: `Bearer ${auditor}` } });
        serverText = r.ok ? ((await r.json()).content?.notes ?? '') : `HTTP ${r.status}`;
      } else {
        const r = await fetch(`${server.httpUrl}/content?name=${encodeURIComponent(docName(d))}`);
        serverText = r.ok ? (await r.json()).notes : `HTTP ${r.status}`;
      }
      const members = clients.filter((c) => c.docName === docName(d));
      const ok = members.every((c) => c.text.toString() === serverText) && serverText.length > 0;
      if (ok) converged++; else { diverged++; divergedDocs.push(docName(d)); }
    }

    const seconds = (cpuEnd.at - cpuStart.at) / 1000;
    const clientCpuMs = (cpuEnd.client.user - cpuStart.client.user + cpuEnd.client.system - cpuStart.client.system) / 1000;
    const result = {
      target, round, clients: o.clients, docs: o.docs, ratePerClient: o.rate, measuredSeconds: Number(seconds.toFixed(2)),
      sentPerSecond: run.sentMeasured / seconds,
      deliveriesPerSecond: run.prop.length / seconds,
      expectedDeliveries: run.sentMeasured * run.others,
      deliveries: run.prop.length,
      acks: run.ack.length,
      sent: run.sentMeasured,
      propagationMs: summary(run.prop),
      ackMs: summary(run.ack),
      schedulerLatenessMs: summary(run.lateness),
      clientEventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      serverCpuPercent: server.pid ? ((cpuEnd.server - cpuStart.server) / 1000 / seconds) * 100 : null,
      serverRssMb: server.pid ? procRssMb(server.pid) : null,
      clientCpuPercent: (clientCpuMs / 1000 / seconds) * 100,
      errors: Object.fromEntries(run.errors),
      connectionsClosed: run.closed,
      deliveredAfterAckPercent: (100 * run.afterAck) / (run.prop.length || 1),
      slowBySecond: Object.fromEntries([...run.slow].sort((a, b) => a[0] - b[0])),
      duplicates: run.duplicates,
      unknownTokens: run.unknownTokens,
      undelivered: pending.recv,
      unacked: pending.ack,
      converged: `${converged}/${o.docs}`,
      divergedDocs,
    };
    return result;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close?.()));
    await server.stop();
  }
}

const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));

function print(r) {
  const row = (name, s) => `  ${name.padEnd(12)} n=${String(s.count).padStart(6)}  p50 ${fmt(s.p50, 2).padStart(7)}  p90 ${fmt(s.p90, 2).padStart(7)}  p99 ${fmt(s.p99, 2).padStart(7)}  max ${fmt(s.max, 1).padStart(7)}  mean ${fmt(s.mean, 2).padStart(7)} ms`;
  console.log(`\n== ${r.target} (round ${r.round}): ${r.clients} clients in ${r.docs} documents, ${r.ratePerClient} updates/s each, ${r.measuredSeconds} s measured`);
  console.log(row('propagation', r.propagationMs));
  console.log(row('ack', r.ackMs));
  console.log(`  rates: ${fmt(r.sentPerSecond)} updates/s in, ${fmt(r.deliveriesPerSecond)} deliveries/s out (${r.deliveries}/${r.expectedDeliveries} deliveries, ${r.acks}/${r.sent} acks)`);
  console.log(`  deliveries that arrived after the sender's ack: ${fmt(r.deliveredAfterAckPercent)} %`);
  console.log(`  deliveries slower than 50 ms, by second of the send: ${JSON.stringify(r.slowBySecond)}`);
  console.log(`  server CPU ${fmt(r.serverCpuPercent)} % of one core, RSS ${fmt(r.serverRssMb, 0)} MB; client process CPU ${fmt(r.clientCpuPercent)} %, event-loop delay p99 ${fmt(r.clientEventLoopDelayMs.p99, 1)} ms max ${fmt(r.clientEventLoopDelayMs.max, 1)} ms; scheduler lateness p99 ${fmt(r.schedulerLatenessMs.p99, 1)} ms`);
  console.log(`  errors ${JSON.stringify(r.errors)}, closed ${r.connectionsClosed}, duplicates ${r.duplicates}, unknown ${r.unknownTokens}, undelivered ${r.undelivered}, unacked ${r.unacked}, converged ${r.converged}${r.divergedDocs.length ? ` diverged: ${r.divergedDocs.join(' ')}` : ''}`);
}

const o = parseArgs(process.argv.slice(2));
console.log(`Propagation.Bench: targets=${o.targets.join(',')} rounds=${o.rounds} clients=${o.clients} docs=${o.docs} rate=${o.rate}/s ` +
  `duration=${o.duration}s warmup=${o.warmup}s cores=${os.cpus().length} node ${process.version} ${new Date().toISOString().slice(0, 16)}Z`);
const results = [];
for (let round = 1; round <= o.rounds; round++) {
  for (const target of o.targets) {
    const r = await runOnce(o, target, round);
    print(r);
    results.push(r);
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
  }
}
if (o.targets.length > 1 || o.rounds > 1) {
  console.log('\n== summary (median over rounds)');
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
  for (const t of o.targets) {
    const rs = results.filter((r) => r.target === t);
    console.log(`  ${t.padEnd(11)} propagation p50 ${fmt(med(rs.map((r) => r.propagationMs.p50)), 2)} p99 ${fmt(med(rs.map((r) => r.propagationMs.p99)), 2)} ms; ` +
      `ack p50 ${fmt(med(rs.map((r) => r.ackMs.p50)), 2)} p99 ${fmt(med(rs.map((r) => r.ackMs.p99)), 2)} ms; server CPU ${fmt(med(rs.map((r) => r.serverCpuPercent)))} %`);
  }
}
process.exit(0);
