// One load-generator process (forked by bench.mjs): drives the clients of a slice of the documents. Every client of
// a document lives in the same worker, so a propagation time is measured on one clock (performance.now()).
//
// Messages from bench.mjs (one at a time, each answered):
//   {type: 'open', target, server, docs: [{name, clients: [index...]}], protocol, updateEncoding}  -> {type: 'opened'}
//   {type: 'step', startAt (epoch ms), rate (inserts/s per client), warmupMs, durationMs, drainMs} -> {type: 'step', ...figures}
//   {type: 'check'}  -> {type: 'check', docs: [{name, equal, text}]}   (all members' texts equal, and the text)
//   {type: 'close'}  -> {type: 'closed'}, then exits
// Errors are answered {type: 'error', message}.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { CollabClient, HocuspocusClient, Tracker } from './lib/clients.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The histogram records the interval between ticks of a timer of this period: the delay is what exceeds it.
const LOOP_RESOLUTION_MS = 10;
const loopMs = (ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
let tracker = null;
let clients = [];
let docs = [];

async function open(m) {
  docs = m.docs;
  const membersPerDoc = Math.max(...docs.map((d) => d.clients.length));
  tracker = new Tracker(membersPerDoc - 1);
  const Client = m.target.startsWith('collab') ? CollabClient : HocuspocusClient;
  for (const d of docs) {
    d.clients.forEach((index, k) => {
      const c = new Client(tracker, index, d.name);
      c.node = d.nodes?.[k] ?? 0; // collab-cluster: which node this client connects to
      clients.push(c);
    });
  }
  // Connect and sync 10 at a time: a server is not measured on how it takes a connection storm.
  for (let i = 0; i < clients.length; i += 10) {
    await Promise.all(clients.slice(i, i + 10).map((c) => c.open(m.server.urls ? { url: m.server.urls[c.node] } : m.server, m)));
  }
  return { type: 'opened', clients: clients.length };
}

async function step(m) {
  const toLocal = (epochMs) => epochMs - performance.timeOrigin;
  const t0 = toLocal(m.startAt);
  const measureStart = t0 + m.warmupMs;
  const measureEnd = measureStart + m.durationMs;
  tracker.reset(true, measureStart);
  const interval = 1000 / m.rate;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let cpuStart = null; let cpuEnd = null;
  setTimeout(() => { cpuStart = process.cpuUsage(); loopDelay.enable(); }, Math.max(0, measureStart - performance.now()));
  setTimeout(() => { cpuEnd = process.cpuUsage(cpuStart ?? undefined); loopDelay.disable(); }, Math.max(0, measureEnd - performance.now()));

  // Open loop: every client edits every 1/rate s from a random phase, whether or not earlier edits were answered.
  await Promise.all(clients.map((c) => new Promise((resolve) => {
    let due = t0 + Math.random() * interval;
    const tick = () => {
      const now = performance.now();
      if (due >= measureEnd) { resolve(); return; }
      const measured = due >= measureStart;
      if (measured) tracker.lateness.push(now - due);
      c.edit(measured);
      due += interval;
      setTimeout(tick, Math.max(0, due - performance.now()));
    };
    setTimeout(tick, Math.max(0, due - performance.now()));
  })));

  // Drain: how long after the last send until every measured edit reached all other members and was acknowledged.
  const typingEnd = performance.now();
  let pending = tracker.pending();
  let deliveredAfterMs = pending.recv === 0 ? 0 : null;
  while ((pending.recv > 0 || pending.ack > 0) && performance.now() - typingEnd < m.drainMs) {
    await sleep(20);
    pending = tracker.pending();
    if (deliveredAfterMs === null && pending.recv === 0) deliveredAfterMs = performance.now() - typingEnd;
  }
  const sentTarget = clients.length * m.rate * (m.durationMs / 1000);
  const cpu = cpuEnd ?? process.cpuUsage(cpuStart ?? undefined);
  return {
    type: 'step',
    clients: clients.length,
    sent: tracker.sentMeasured,
    sentTarget,
    expectedDeliveries: tracker.sentMeasured * tracker.others,
    prop: Float64Array.from(tracker.prop),
    propSame: Float64Array.from(tracker.propSame),
    propCross: Float64Array.from(tracker.propCross),
    ack: Float64Array.from(tracker.ack),
    lateness: Float64Array.from(tracker.lateness),
    loopDelayMs: { p50: loopMs(loopDelay.percentile(50)), p99: loopMs(loopDelay.percentile(99)), max: loopMs(loopDelay.max) },
    cpuMs: (cpu.user + cpu.system) / 1000,
    deliveredAfterMs,
    undelivered: pending.recv,
    deliveriesMissing: pending.deliveriesMissing,
    unacked: pending.ack,
    errors: Object.fromEntries(tracker.errors),
    duplicates: tracker.duplicates,
    unknownTokens: tracker.unknownTokens,
    afterAck: tracker.afterAck,
    slowBySecond: Object.fromEntries(tracker.slow),
  };
}

function check() {
  return {
    type: 'check',
    docs: docs.map((d) => {
      const texts = clients.filter((c) => c.docName === d.name).map((c) => c.text.toString());
      return { name: d.name, equal: texts.every((t) => t === texts[0]), text: texts[0] };
    }),
  };
}

async function close() {
  await Promise.allSettled(clients.map((c) => c.close()));
  return { type: 'closed' };
}

let queue = Promise.resolve();
process.on('message', (m) => {
  queue = queue.then(async () => {
    let reply;
    try {
      if (m.type === 'open') reply = await open(m);
      else if (m.type === 'step') reply = await step(m);
      else if (m.type === 'check') reply = check();
      else if (m.type === 'close') reply = await close();
      else reply = { type: 'error', message: `unknown message ${m.type}` };
    } catch (e) {
      reply = { type: 'error', message: String(e?.stack ?? e) };
    }
    process.send(reply);
    if (m.type === 'close') setTimeout(() => process.exit(0), 50);
  });
});
process.on('disconnect', () => process.exit(0));
