// Co-editing load benchmark (issues 5 and 14): clients in documents, 5 per document, each typing into one Y.Text
// through one server; measures per insert the propagation to every other member and the sender's ack, the server's
// CPU per delivered insert and its memory, and checks delivery and convergence. Same load generator, same Y.js work,
// against a CollabAkka node and against @hocuspocus/server 3.4.4 (in memory), alternated in one session.
//
//   node bench/Propagation.Bench/bench.mjs --scenario 100|500|ramp --targets T[,T...] [options]
//     --scenario 100    100 clients, 20 documents, 2 inserts/s each (200 inserts/s, 800 deliveries/s)
//                500    500 clients, 100 documents, 4 inserts/s each (2,000 inserts/s, 8,000 deliveries/s)
//                ramp   500 clients, 100 documents; raise the total rate step by step (--steps) until propagation
//                       p99 > 100 ms or delivery falls behind; reports the highest sustained rate at p99 <= 100 ms
//     --targets         collab (SQLite), collab-pg (PostgreSQL: $COLLAB_TEST_PG), collab-cluster (--nodes node
//                       processes in one cluster on $COLLAB_TEST_PG), hocuspocus; several = alternated A, B, A, B...
//                       (default collab,hocuspocus)
//     --nodes N         collab-cluster: how many nodes (default 3)
//     --placement P     collab-cluster: where each document's clients connect. spread (default): round robin over
//                       the nodes, so most deliveries cross nodes (propagation is also reported split same-node /
//                       cross-node); pinned: all clients of document d on node d mod N (a sharded workload; the
//                       document's entity lives wherever its shard is)
//     --rounds N        how many times the targets are run in turn (default 1)
//     --clients N --docs D --rate R   override the scenario (R = inserts/s per client)
//     --duration S --warmup S         measured and unmeasured typing per run or ramp step (30/5; ramp 10/3)
//     --steps A,B,...   ramp: total inserts/s of each step (default 250,500,1000,1500,2000,3000,4000,5000,6000,8000,10000)
//     --ramp-warmup S   ramp: unmeasured typing at the first step's rate before the first step (default 10)
//     --retries N       ramp: how often a failing step whose window was marked is measured again (default 2)
//     --workers N       load-generator processes (default: 1 per 125 clients, at least 2)
//     --protocol json|msgpack        SignalR hub protocol of the collab clients (default json)
//     --update-encoding base64|bytes how collab clients send Y.js updates (default: base64 for json, bytes for msgpack)
//     --wait-quiet S    before each run wait up to S s for the machine to be below 0.25 cores busy (default 0)
//     --node-dll PATH   the node to start (default src/Node/bin/Release/net10.0/CollabAkka.Node.dll)
//     --node-arg K=V    extra node configuration, repeatable
//     --data-root DIR   where the node's temporary data directory is made (default: the system temp folder)
//     --pg-dir DIR      collab-pg: the cluster's data directory, to measure PostgreSQL's CPU (default $COLLAB_PG_DIR
//                       or /tmp/collab-pg, as scripts/pg.sh; counted only if it listens on $COLLAB_TEST_PG's port)
//     --collab-url URL  use a running node instead of starting one (no server CPU or memory figures)
//     --json FILE       also write every result as JSON
//     --worker-node-arg A  a Node option for the workers, repeatable (e.g. --cpu-prof to see where the generator's CPU goes)
//     --report F[,F...] print the tables again from --json files (marks recomputed with the current thresholds)
//
// How it measures: bench/README.md. Every server runs in its own process; the generator is this process plus
// --workers forked workers (worker.mjs), each driving whole documents (all members of a document in one process, so
// a propagation time is two readings of one clock). CPU of the server, of the generator and of everything else on
// the machine come from /proc over the measured window; each run is marked STARVED (the generator could not keep its
// schedule), BUSY (other load on the machine) or FULL (no idle core) when its numbers are not trustworthy.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDir, devToken, isCollab, repoRoot, serverText, startServer, TARGETS } from './lib/servers.mjs';
import { machineCpuMs, procMemMiB, sample, window } from './lib/proc.mjs';
import { LIMITS, marks, median, summary } from './lib/stats.mjs';

const SCENARIOS = {
  100: { clients: 100, docs: 20, rate: 2, duration: 30, warmup: 5 },
  500: { clients: 500, docs: 100, rate: 4, duration: 30, warmup: 5 },
  ramp: { clients: 500, docs: 100, duration: 10, warmup: 3, steps: [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000] },
};
const RAMP_P99_MS = 100;
const RAMP_DELIVERED_WITHIN_MS = 1000;
const cores = os.cpus().length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const o = {
    scenario: '100', retries: 2, rampWarmup: 10, targets: ['collab', 'hocuspocus'], rounds: 1, workers: null, protocol: 'json', updateEncoding: null, waitQuiet: 0,
    nodes: 3, placement: 'spread', pgDir: process.env.COLLAB_PG_DIR ?? '/tmp/collab-pg', dataRoot: os.tmpdir(), nodeDll: path.join(repoRoot, 'src/Node/bin/Release/net10.0/CollabAkka.Node.dll'), nodeArgs: [], collabUrl: null, json: null,
  };
  const over = {};
  for (let i = 0; i < argv.length; i++) {
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`); return argv[++i]; };
    switch (argv[i]) {
      case '--scenario': o.scenario = next(); break;
      case '--targets': o.targets = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--rounds': o.rounds = Number(next()); break;
      case '--clients': over.clients = Number(next()); break;
      case '--docs': over.docs = Number(next()); break;
      case '--rate': over.rate = Number(next()); break;
      case '--duration': over.duration = Number(next()); break;
      case '--warmup': over.warmup = Number(next()); break;
      case '--steps': over.steps = next().split(',').map(Number); break;
      case '--workers': o.workers = Number(next()); break;
      case '--retries': o.retries = Number(next()); break;
      case '--ramp-warmup': o.rampWarmup = Number(next()); break;
      case '--protocol': o.protocol = next(); break;
      case '--update-encoding': o.updateEncoding = next(); break;
      case '--wait-quiet': o.waitQuiet = Number(next()); break;
      case '--node-dll': o.nodeDll = path.resolve(next()); break;
      case '--node-arg': o.nodeArgs.push(next()); break;
      case '--data-root': o.dataRoot = next(); break;
      case '--pg-dir': o.pgDir = next(); break;
      case '--nodes': o.nodes = Number(next()); break;
      case '--placement': o.placement = next(); break;
      case '--collab-url': o.collabUrl = next(); break;
      case '--json': o.json = next(); break;
      case '--worker-node-arg': workerNodeArgs.push(next()); break;
      case '--report': o.report = next().split(','); break;
      case '-h': case '--help': console.log(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n')); process.exit(0); break;
      default: throw new Error(`Unknown option ${argv[i]} (--help)`);
    }
  }
  const base = SCENARIOS[o.scenario];
  if (!base) throw new Error(`Unknown scenario ${o.scenario}; use ${Object.keys(SCENARIOS).join(', ')}`);
  Object.assign(o, base, over);
  o.ramp = o.scenario === 'ramp';
  if (o.ramp) o.rate = o.steps[0] / o.clients;
  o.workers ??= Math.max(2, Math.ceil(o.clients / 125));
  o.updateEncoding ??= o.protocol === 'msgpack' ? 'bytes' : 'base64';
  for (const t of o.targets) if (!TARGETS.includes(t)) throw new Error(`Unknown target ${t}; use ${TARGETS.join(', ')}`);
  if (!(o.nodes >= 1)) throw new Error('--nodes must be at least 1');
  if (!['spread', 'pinned'].includes(o.placement)) throw new Error(`--placement spread|pinned, not ${o.placement}`);
  if (!['json', 'msgpack'].includes(o.protocol)) throw new Error(`--protocol json|msgpack, not ${o.protocol}`);
  if (o.clients % o.docs !== 0) throw new Error('--clients must be a multiple of --docs (every document has the same members)');
  return o;
}

// ---- the load generator: forked workers, one request at a time each ----
let workerNodeArgs = [];
class Worker {
  constructor(id) {
    this.id = id;
    this.proc = fork(path.join(benchDir, 'worker.mjs'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: workerNodeArgs });
    this.waiting = null;
    this.proc.on('message', (m) => { const w = this.waiting; this.waiting = null; w?.(m); });
    this.proc.on('exit', (code) => { const w = this.waiting; this.waiting = null; w?.({ type: 'error', message: `worker ${id} exited with ${code}` }); });
  }

  request(message) {
    return new Promise((resolve, reject) => {
      this.waiting = (m) => (m.type === 'error' ? reject(new Error(`worker ${this.id}: ${m.message}`)) : resolve(m));
      this.proc.send(message);
    });
  }

  async close() {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    await Promise.race([this.request({ type: 'close' }).catch(() => {}).then(() => exited), sleep(10000)]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Waits (up to o.waitQuiet s) until the machine has been below LIMITS.othersCores busy for 3 s; returns its load. */
async function waitQuiet(o) {
  const measure = async (ms) => { const a = machineCpuMs(); await sleep(ms); return (machineCpuMs().busy - a.busy) / ms; };
  const deadline = Date.now() + o.waitQuiet * 1000;
  let busy = await measure(1000);
  while (Date.now() < deadline && busy > LIMITS.othersCores) busy = await measure(3000);
  return busy;
}

async function runSession(o, target, round) {
  const before = o.waitQuiet > 0 ? await waitQuiet(o) : await (async () => { const a = machineCpuMs(); await sleep(1000); return (machineCpuMs().busy - a.busy) / 1000; })();
  const server = await startServer(target, o);
  const idleMem = server.pid ? procMemMiB(server.pid) : { rss: NaN, peak: NaN };
  const tag = Math.random().toString(36).slice(2, 8);
  const docName = (d) => (isCollab(target) ? `ward-board:bench-${tag}-${d}` : `bench-${tag}-${d}`);
  const members = Math.ceil(o.clients / o.docs);
  const workers = Array.from({ length: Math.min(o.workers, o.docs) }, (_, i) => new Worker(i));
  const session = { target, round, store: server.store, nodes: server.urls?.length ?? 1, placement: server.urls ? o.placement : null, clients: o.clients, docs: o.docs, workers: workers.length, protocol: isCollab(target) ? o.protocol : 'y-protocols', machineBusyBeforeCores: before, idleRssMiB: idleMem.rss, steps: [] };
  try {
    const slices = workers.map(() => []);
    for (let d = 0, c = 0; d < o.docs; d++) {
      const clients = [];
      const nodes = [];
      for (let k = 0; k < members && c < o.clients; k++) {
        clients.push(c++);
        nodes.push(!server.urls ? 0 : o.placement === 'pinned' ? d % server.urls.length : (d + k) % server.urls.length);
      }
      slices[d % workers.length].push({ name: docName(d), clients, nodes });
    }
    const openedAt = performance.now();
    await Promise.all(workers.map((w, i) => w.request({ type: 'open', target, server: { url: server.url, urls: server.urls }, docs: slices[i], protocol: o.protocol, updateEncoding: o.updateEncoding })));
    session.connectSeconds = (performance.now() - openedAt) / 1000;
    await sleep(1000);

    const rates = o.ramp ? o.steps.map((total) => total / o.clients) : [o.rate];
    // Ramp: typing at the first step's rate for --ramp-warmup s first, so JIT tiering and pool growth are not
    // measured in the first step (the fixed-rate scenarios have their --warmup for that).
    if (o.ramp && o.rampWarmup > 0) await measureStep({ ...o, warmup: o.rampWarmup, duration: 1 }, server, workers, rates[0]);
    for (let s = 0; s < rates.length; s++) {
      let fig = await measureStep(o, server, workers, rates[s]);
      fig.verdict = verdict(fig);
      // A ramp step that fails on a marked (untrustworthy) window is tried again (--retries) before the ramp stops.
      for (let retry = 0; o.ramp && retry < o.retries && fig.verdict !== 'ok' && fig.marks.length > 0; retry++) {
        printStep(o, session, fig, '(retrying: marked)');
        fig = await measureStep(o, server, workers, rates[s]);
        fig.verdict = verdict(fig);
        fig.retried = retry + 1;
      }
      session.steps.push(fig);
      if (o.ramp) printStep(o, session, fig);
      if (fig.verdict !== 'ok' || fig.undelivered > 0) break;
    }

    // Convergence: every client's text equals the others' of its document and the server's.
    const checks = (await Promise.all(workers.map((w) => w.request({ type: 'check' })))).flatMap((r) => r.docs);
    const auditor = isCollab(target) ? await devToken(server.url, `bench-auditor-${tag}`, 'auditor') : null;
    let converged = 0; const diverged = [];
    for (const c of checks) {
      const text = await serverText(server, c.name, auditor);
      if (c.equal && text === c.text && text.length > 0) converged++; else diverged.push(c.name);
    }
    session.converged = converged;
    session.diverged = diverged;
    const mem = server.pid ? procMemMiB(server.pid) : { rss: NaN, peak: NaN };
    session.peakRssMiB = mem.peak;
    session.rssMiB = mem.rss;
    session.peakRssPerClientKiB = (mem.peak * 1024) / o.clients;
    session.addedRssPerClientKiB = ((mem.peak - idleMem.rss) * 1024) / o.clients;
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
    await server.stop();
  }
  return session;
}

async function measureStep(o, server, workers, rate) {
  const startAt = Date.now() + 300;
  const warmupMs = o.warmup * 1000;
  const durationMs = o.duration * 1000;
  const pids = [process.pid, ...workers.map((w) => w.proc.pid)];
  const t0 = startAt - performance.timeOrigin;
  let a = null; let b = null;
  const serverPids = server.pids ?? server.pid;
  setTimeout(() => { a = sample(serverPids, pids, server.storePid); }, t0 + warmupMs - performance.now());
  setTimeout(() => { b = sample(serverPids, pids, server.storePid); }, t0 + warmupMs + durationMs - performance.now());
  const drainMs = o.ramp ? 5000 : 20000;
  const parts = await Promise.all(workers.map((w) => w.request({ type: 'step', startAt, rate, warmupMs, durationMs, drainMs })));
  const cpu = window(a, b);
  const sum = (k) => parts.reduce((x, p) => x + p[k], 0);
  const merge = (k) => { const out = {}; for (const p of parts) for (const [key, v] of Object.entries(p[k])) out[key] = (out[key] ?? 0) + v; return out; };
  const sent = sum('sent');
  const expected = sum('expectedDeliveries');
  const prop = summary(...parts.map((p) => p.prop));
  const fullyDelivered = sent - sum('undelivered');
  const fig = {
    ratePerClient: rate,
    rateTotal: rate * o.clients,
    seconds: cpu.seconds,
    sent,
    sentTarget: sum('sentTarget'),
    sentPerSecond: sent / cpu.seconds,
    deliveries: prop.count,
    expectedDeliveries: expected,
    deliveryPercent: (100 * prop.count) / (expected || 1),
    deliveredAfterMs: parts.some((p) => p.deliveredAfterMs === null) ? null : Math.max(...parts.map((p) => p.deliveredAfterMs)),
    undelivered: sum('undelivered'),
    unacked: sum('unacked'),
    propagationMs: prop,
    // collab-cluster: the same deliveries split by whether sender and receiver were connected to the same node.
    propagationSameNodeMs: summary(...parts.map((p) => p.propSame)),
    propagationCrossNodeMs: summary(...parts.map((p) => p.propCross)),
    ackMs: summary(...parts.map((p) => p.ack)),
    latenessMs: summary(...parts.map((p) => p.lateness)),
    loopDelayP99Ms: Math.max(...parts.map((p) => p.loopDelayMs.p99)),
    loopDelayMaxMs: Math.max(...parts.map((p) => p.loopDelayMs.max)),
    cpu,
    serverCpuPerInsertMs: (cpu.serverCores * cpu.seconds * 1000) / (fullyDelivered || NaN),
    storeCpuPerInsertMs: (cpu.storeCores * cpu.seconds * 1000) / (fullyDelivered || NaN),
    generatorCpuPerInsertMs: (cpu.generatorCores * cpu.seconds * 1000) / (sent || NaN),
    errors: merge('errors'),
    duplicates: sum('duplicates'),
    unknownTokens: sum('unknownTokens'),
    deliveredAfterAckPercent: (100 * sum('afterAck')) / (prop.count || 1),
    slowBySecond: merge('slowBySecond'),
  };
  Object.assign(fig, marks(fig, cores));
  return fig;
}

function verdict(f) {
  if (f.propagationMs.p99 > RAMP_P99_MS) return `p99 > ${RAMP_P99_MS} ms`;
  if (f.deliveredAfterMs === null || f.deliveredAfterMs > RAMP_DELIVERED_WITHIN_MS) return 'behind';
  if (f.sent < LIMITS.sentRatio * f.sentTarget) return 'generator behind';
  return 'ok';
}

/** Ramp: the highest total rate whose step passed (NaN-free: 0 when none did). */
function ceiling(session) {
  const ok = session.steps.filter((s) => s.verdict === 'ok');
  return ok.length ? ok[ok.length - 1].rateTotal : 0;
}
/**
 * The ceiling as text: ">= N" when even the last step passed (the server's ceiling is above the ramp); "N (the failing
 * step was MARKS)" when the step that stopped the ramp was marked, i.e. the limit may be the machine's, not the server's.
 */
function ceilingText(session) {
  const c = ceiling(session);
  const last = session.steps.at(-1);
  if (session.steps.length === o.steps.length && last.verdict === 'ok') return `>= ${c}`;
  return last.verdict !== 'ok' && last.marks.length ? `${c} (failing step ${last.marks.join('+')})` : String(c);
}

// ---- printing ----
const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) || !Number.isFinite(v) ? '-' : v.toFixed(d));
const name = (s) => (s.target === 'collab' ? `collab (${s.protocol})` : s.target === 'collab-pg' ? `collab-pg (${s.protocol})`
  : s.target === 'collab-cluster' ? `collab-cluster (${s.nodes} nodes, ${s.placement}, ${s.protocol})` : s.target);
const markOf = (f) => (f.marks.length ? f.marks.join('+') : 'ok');

function printRun(s) {
  const f = s.steps[0];
  const row = (label, x) => `  ${label.padEnd(12)} n=${String(x.count).padStart(7)}  p50 ${fmt(x.p50, 2).padStart(7)}  p90 ${fmt(x.p90, 2).padStart(7)}  p99 ${fmt(x.p99, 2).padStart(8)}  max ${fmt(x.max, 1).padStart(7)} ms`;
  console.log(`\n== ${name(s)} round ${s.round}: ${s.clients} clients in ${s.docs} documents, ${fmt(f.ratePerClient, 2)} inserts/s each, ${fmt(f.seconds, 1)} s measured, ${s.workers} workers  [${markOf(f)}${f.why.length ? `: ${f.why.join(', ')}` : ''}]`);
  console.log(row('propagation', f.propagationMs));
  console.log(row('ack', f.ackMs));
  if (s.target === 'collab-cluster') {
    console.log(row('  same node', f.propagationSameNodeMs));
    console.log(row('  cross node', f.propagationCrossNodeMs));
  }
  console.log(`  delivery ${fmt(f.deliveryPercent, 3)} % (${f.deliveries}/${f.expectedDeliveries}; all delivered ${f.deliveredAfterMs === null ? 'NOT within the drain' : `${fmt(f.deliveredAfterMs, 0)} ms after the last send`}), acks ${f.ackMs.count}/${f.sent}, ${fmt(f.sentPerSecond, 0)} inserts/s in; converged ${s.converged}/${s.docs}${s.diverged.length ? ` (diverged: ${s.diverged.slice(0, 5).join(' ')})` : ''}`);
  console.log(`  server: ${fmt(f.serverCpuPerInsertMs, 3)} ms CPU per delivered insert (${fmt(100 * f.cpu.serverCores, 0)} % of a core)${Number.isNaN(f.cpu.storeCores) ? '' : ` + PostgreSQL ${fmt(f.storeCpuPerInsertMs, 3)} ms (${fmt(100 * f.cpu.storeCores, 0)} %)`}, peak RSS ${fmt(s.peakRssMiB, 0)} MiB = ${fmt(s.peakRssPerClientKiB, 0)} KiB per client (idle ${fmt(s.idleRssMiB, 0)} MiB, +${fmt(s.addedRssPerClientKiB, 0)} KiB per client)`);
  console.log(`  generator: ${fmt(f.cpu.generatorCores, 2)} cores (busiest worker ${fmt(100 * f.cpu.generatorMaxProcessCores, 0)} % of a core; waited for a CPU up to ${fmt(100 * f.cpu.generatorMaxRunQueueWait, 0)} % of the time), timers late p99 ${fmt(f.latenessMs.p99, 1)} ms, event-loop delay p99 ${fmt(f.loopDelayP99Ms, 1)} max ${fmt(f.loopDelayMaxMs, 0)} ms`);
  console.log(`  machine: ${cores} cores, ${fmt(f.cpu.machineBusyCores, 2)} busy (others ${fmt(f.cpu.othersCores, 2)}, steal ${fmt(f.cpu.stealCores, 2)}; ${fmt(s.machineBusyBeforeCores, 2)} before the run), server threads waited for a CPU ${fmt(f.cpu.serverRunQueueWait, 2)} thread-s per s, load ${f.cpu.loadStart.one} -> ${f.cpu.loadEnd.one}`);
  const problems = [];
  if (Object.keys(f.errors).length) problems.push(`errors ${JSON.stringify(f.errors)}`);
  if (f.duplicates || f.unknownTokens) problems.push(`duplicates ${f.duplicates}, unknown tokens ${f.unknownTokens}`);
  if (f.undelivered || f.unacked) problems.push(`undelivered ${f.undelivered}, unacked ${f.unacked}`);
  const slow = Object.entries(f.slowBySecond).sort((x, y) => x[0] - y[0]);
  if (slow.length) problems.push(`deliveries slower than 100 ms by second of the send: ${slow.map(([k, v]) => `${k}:${v}`).join(' ')}`);
  for (const p of problems) console.log(`  ${p}`);
}

function printStep(o, s, f, note = '') {
  if (s.steps.length === 0 && !note) {
    // header printed by the first step
  }
  console.log(`  ${name(s)} r${s.round} ${String(f.rateTotal).padStart(6)}/s (sent ${fmt(f.sentPerSecond, 0).padStart(6)}/s): prop p50 ${fmt(f.propagationMs.p50, 2).padStart(6)} p99 ${fmt(f.propagationMs.p99, 1).padStart(7)} max ${fmt(f.propagationMs.max, 0).padStart(6)} ms, ack p99 ${fmt(f.ackMs.p99, 1).padStart(7)} ms, ` +
    `delivered ${fmt(f.deliveryPercent, 2)} % all after ${f.deliveredAfterMs === null ? 'never' : fmt(f.deliveredAfterMs, 0)} ms, server ${fmt(100 * f.cpu.serverCores, 0)} % = ${fmt(f.serverCpuPerInsertMs, 3)} ms/insert, ` +
    `generator ${fmt(f.cpu.generatorCores, 2)} cores (max worker ${fmt(100 * f.cpu.generatorMaxProcessCores, 0)} %), late p99 ${fmt(f.latenessMs.p99, 1)} ms, others ${fmt(f.cpu.othersCores, 2)}: ${f.verdict} [${markOf(f)}] ${note}`);
}

/** Figures compared between servers: [label, value of a session, digits]. */
const FIGURES = [
  ['server CPU per delivered insert (ms)', (s) => s.steps[0].serverCpuPerInsertMs, 3],
  ['server CPU (% of a core)', (s) => 100 * s.steps[0].cpu.serverCores, 0],
  ['+ PostgreSQL CPU per insert (ms)', (s) => s.steps[0].storeCpuPerInsertMs, 3],
  ['propagation p50 (ms)', (s) => s.steps[0].propagationMs.p50, 2],
  ['propagation p99 (ms)', (s) => s.steps[0].propagationMs.p99, 1],
  ['propagation max (ms)', (s) => s.steps[0].propagationMs.max, 0],
  ['ack p50 (ms)', (s) => s.steps[0].ackMs.p50, 2],
  ['ack p99 (ms)', (s) => s.steps[0].ackMs.p99, 1],
  ['delivery (%)', (s) => s.steps[0].deliveryPercent, 2],
  ['documents converged', (s) => s.converged, 0],
  ['server peak RSS (MiB)', (s) => s.peakRssMiB, 0],
  ['peak RSS per client (KiB)', (s) => s.peakRssPerClientKiB, 0],
  ['generator CPU (cores)', (s) => s.steps[0].cpu.generatorCores, 2],
  ['busiest worker (% of a core)', (s) => 100 * s.steps[0].cpu.generatorMaxProcessCores, 0],
  ['generator event-loop delay p99 (ms)', (s) => s.steps[0].loopDelayP99Ms, 1],
  ['generator: worker waiting for a CPU (% of the time)', (s) => 100 * s.steps[0].cpu.generatorMaxRunQueueWait, 0],
  ['server threads waiting for a CPU (thread-s per s)', (s) => s.steps[0].cpu.serverRunQueueWait, 2],
  ['others on the machine (cores)', (s) => s.steps[0].cpu.othersCores, 2],
];

function range(xs, d) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)); // JSON keeps NaN as null
  if (v.length === 0) return '-';
  const lo = Math.min(...v); const hi = Math.max(...v);
  return v.length === 1 || fmt(lo, d) === fmt(hi, d) ? fmt(lo, d) : `${fmt(median(v), d)} (${fmt(lo, d)}–${fmt(hi, d)})`;
}

function printComparison(o, sessions, label) {
  const targets = o.targets.filter((t) => sessions.some((s) => s.target === t));
  if (targets.length === 0) return;
  const peer = targets.includes('hocuspocus') ? 'hocuspocus' : null;
  const others = targets.filter((t) => t !== peer);
  console.log(`\n== ${label}: median (min–max) per server${peer && others.length ? `; ratio = median ${others.join('/')} ÷ median hocuspocus` : ''}`);
  const head = ['figure', ...targets.map((t) => `${t} (${sessions.filter((s) => s.target === t).length} runs)`), ...(peer ? others.map((t) => `${t} / hocuspocus`) : [])];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const rows = o.ramp
    ? [['ceiling: highest total inserts/s at p99 <= 100 ms', ceiling, 0], ['server CPU per insert at the ceiling (ms)', (s) => s.steps.filter((x) => x.verdict === 'ok').at(-1)?.serverCpuPerInsertMs ?? NaN, 3],
      ['server peak RSS (MiB)', (s) => s.peakRssMiB, 0], ['documents converged', (s) => s.converged, 0]]
    : FIGURES;
  for (const [fig, get, d] of rows) {
    const cells = targets.map((t) => range(sessions.filter((s) => s.target === t).map(get), d));
    const ratios = peer ? others.map((t) => {
      const a = median(sessions.filter((s) => s.target === t).map(get)); const b = median(sessions.filter((s) => s.target === peer).map(get));
      return Number.isFinite(a / b) ? `${fmt(a / b, 2)}x` : '-';
    }) : [];
    if (cells.every((c) => c === '-')) continue;
    console.log(`| ${[fig, ...cells, ...ratios].join(' | ')} |`);
  }
}

function printRunTable(o, sessions) {
  console.log('\n== all runs (ms; CPU/insert = server CPU per delivered insert; gen = generator cores, busiest worker %; others = other load in cores)');
  if (o.ramp) {
    console.log('| # | server | ceiling inserts/s | steps passed | last step | others (cores, max) | marks |');
    console.log('|---:|---|---:|---|---|---:|---|');
    sessions.forEach((s, i) => {
      const last = s.steps.at(-1);
      console.log(`| ${i + 1} | ${name(s)} | ${ceilingText(s)} | ${s.steps.filter((x) => x.verdict === 'ok').map((x) => x.rateTotal).join(', ') || '-'} | ${last.rateTotal}/s: ${last.verdict}, p99 ${fmt(last.propagationMs.p99, 0)} | ${fmt(Math.max(...s.steps.map((x) => x.cpu.othersCores)), 2)} | ${[...new Set(s.steps.flatMap((x) => x.marks))].join('+') || 'ok'} |`);
    });
    return;
  }
  console.log('| # | server | CPU/insert | server % | prop p50 | p99 | max | ack p50 | p99 | delivery % | converged | peak RSS MiB | KiB/client | gen cores | worker % | late p99 | loop p99 | others | load | mark |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  sessions.forEach((s, i) => {
    const f = s.steps[0];
    console.log(`| ${i + 1} | ${name(s)} | ${fmt(f.serverCpuPerInsertMs, 3)} | ${fmt(100 * f.cpu.serverCores, 0)} | ${fmt(f.propagationMs.p50, 2)} | ${fmt(f.propagationMs.p99, 1)} | ${fmt(f.propagationMs.max, 0)} | ` +
      `${fmt(f.ackMs.p50, 2)} | ${fmt(f.ackMs.p99, 1)} | ${fmt(f.deliveryPercent, 2)} | ${s.converged}/${s.docs} | ${fmt(s.peakRssMiB, 0)} | ${fmt(s.peakRssPerClientKiB, 0)} | ` +
      `${fmt(f.cpu.generatorCores, 2)} | ${fmt(100 * f.cpu.generatorMaxProcessCores, 0)} | ${fmt(f.latenessMs.p99, 1)} | ${fmt(f.loopDelayP99Ms, 1)} | ${fmt(f.cpu.othersCores, 2)} | ${f.cpu.loadStart.one} | ${markOf(f)} |`);
  });
}

const strip = (s) => ({ ...s, steps: s.steps.map((f) => ({ ...f })) });

const o = parseArgs(process.argv.slice(2));
if (o.report) {
  const loaded = o.report.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  Object.assign(o, { ...loaded[0].options, report: o.report });
  o.targets = [...new Set(loaded.flatMap((l) => l.options.targets))];
  const all = loaded.flatMap((l) => l.sessions);
  for (const s of all) for (const f of s.steps) Object.assign(f, marks(f, cores));
  printRunTable(o, all);
  printComparison(o, all, 'all runs');
  const unmarked = all.filter((s) => s.steps.every((f) => f.marks.length === 0));
  if (unmarked.length > 0 && unmarked.length < all.length) printComparison(o, unmarked, 'unmarked runs only');
  process.exit(0);
}
console.log(`Propagation.Bench: scenario ${o.scenario}, targets ${o.targets.join(',')}, rounds ${o.rounds}, ${o.clients} clients in ${o.docs} documents, ` +
  (o.ramp ? `steps ${o.steps.join(',')} inserts/s` : `${o.rate} inserts/s each`) + `, ${o.warmup} s + ${o.duration} s, ${o.workers} workers, protocol ${o.protocol}/${o.updateEncoding}; ` +
  `${cores} cores, node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
const sessions = [];
for (let round = 1; round <= o.rounds; round++) {
  for (const target of o.targets) {
    if (o.ramp) console.log(`\n== ramp: ${target} round ${round}`);
    let s;
    try {
      s = await runSession(o, target, round);
    } catch (e) {
      console.log(`\n== ${target} round ${round} FAILED: ${e.message}`);
      continue;
    }
    if (o.ramp) console.log(`  ceiling: ${ceilingText(s)} inserts/s at p99 <= ${RAMP_P99_MS} ms; converged ${s.converged}/${s.docs}; peak RSS ${fmt(s.peakRssMiB, 0)} MiB`);
    else printRun(s);
    sessions.push(s);
    if (o.json) fs.writeFileSync(o.json, JSON.stringify({ options: o, sessions: sessions.map(strip) }, null, 2));
  }
}
printRunTable(o, sessions);
printComparison(o, sessions, 'all runs');
const trusted = o.ramp ? sessions.filter((s) => s.steps.every((f) => f.marks.length === 0)) : sessions.filter((s) => s.steps[0].marks.length === 0);
if (trusted.length > 0 && trusted.length < sessions.length) printComparison(o, trusted, 'unmarked runs only');
process.exit(0);
