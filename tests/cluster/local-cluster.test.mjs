// deploy/local-cluster.sh end to end: up (PostgreSQL + 3 nodes + nginx on loopback, own state dir and ports),
// status --json, the demo and a SignalR client through nginx, kill/restart/pause/resume, and a down that leaves
// no process behind. Needs the built node (scripts/test.sh builds it), Debian's postgresql and nginx.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'deploy/local-cluster.sh');
const NODES = 3;
const state = mkdtempSync(join(tmpdir(), 'collab-lc-test-'));

function portFree(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A base port with `count` consecutive free ports, away from the script's defaults and the tests' 55432. */
async function freeRange(count, used) {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => used.has(p))) continue;
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) {
      ports.forEach((p) => used.add(p));
      return base;
    }
  }
}

const used = new Set();
const env = {
  ...process.env,
  STATE_DIR: state,
  NODES: String(NODES),
  HTTP_PORT: String(await freeRange(NODES, used)),
  AKKA_PORT: String(await freeRange(NODES, used)),
  LB_PORT: String(await freeRange(1, used)),
  PG_PORT: String(await freeRange(1, used)),
  UP_TIMEOUT: '90',
};

function run(...args) {
  return new Promise((res, rej) => {
    execFile('bash', [SCRIPT, ...args], { env, cwd: ROOT, timeout: 150_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`local-cluster.sh ${args.join(' ')}: ${err.message}\n${stderr}`));
      else res(stdout);
    });
  });
}

const lastJson = (out) => JSON.parse(out.trim().split('\n').at(-1));
const status = async () => lastJson(await run('status', '--json'));
/** Alive = the process exists and is no zombie (a killed node may wait a moment for its new parent to reap it). */
function alive(pid) {
  try { return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

function assertShape(s) {
  assert.deepEqual(Object.keys(s), ['lb', 'nodes']);
  assert.equal(s.lb, `http://127.0.0.1:${env.LB_PORT}`);
  assert.equal(s.nodes.length, NODES);
  s.nodes.forEach((node, i) => {
    assert.deepEqual(Object.keys(node), ['n', 'url', 'pid', 'state']);
    assert.equal(node.n, i + 1);
    assert.equal(node.url, `http://127.0.0.1:${Number(env.HTTP_PORT) + i}`);
    assert.ok(['up', 'down', 'paused'].includes(node.state));
    assert.ok(node.state === 'down' ? node.pid === null : Number.isInteger(node.pid));
  });
}

let downDone = false;
after(async () => {
  if (!downDone) await run('down').catch(() => {});
  rmSync(state, { recursive: true, force: true });
});

test('local cluster: up, traffic through nginx, kill/restart/pause/resume, down', { timeout: 240_000 }, async (t) => {
  const up = lastJson(await run('up'));
  assertShape(up);
  assert.deepEqual(up.nodes.map((n) => n.state), ['up', 'up', 'up']);
  assert.deepEqual(await status(), up);
  const lb = up.lb;

  // Every node answers /ready (up waited for it) and, once /cluster/members exists, sees all three Up.
  for (const node of up.nodes) {
    assert.equal((await fetch(`${node.url}/ready`)).status, 200);
    const members = await fetch(`${node.url}/cluster/members`);
    if (members.status !== 404) {
      const body = await members.json();
      assert.equal(body.self, `n${node.n}`);
      assert.equal(body.members.filter((m) => m.status === 'Up').length, NODES);
    }
  }

  await t.test('the demo page and the widget through nginx', async () => {
    assert.equal((await fetch(`${lb}/health`)).status, 200);
    const demo = await fetch(`${lb}/demo`);
    assert.equal(demo.status, 200);
    assert.match(await demo.text(), /collab-sdk/);
    const sdk = await fetch(`${lb}/collab-sdk.js`);
    assert.equal(sdk.status, 200);
    assert.ok((await sdk.arrayBuffer()).byteLength > 10_000);
  });

  await t.test('SignalR clients connect through nginx (WebSocket upgrade) and join', async () => {
    process.env.COLLAB_URL = lb;
    const { Client, unique } = await import('../js/lib/collab.mjs');
    // Three connections held open at once: least_conn puts them on different nodes, so a dev token minted by
    // whichever node answered POST /dev/token must be accepted by every node (the script shares the dev key).
    const clients = [];
    try {
      for (let i = 0; i < NODES; i++) {
        clients.push(await Client.connect(unique('lc-'), `Dr Cluster ${i}`, 'doctor', {
          http: { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true },
        }));
      }
      for (const client of clients) {
        assert.equal(client.connection.state, signalR.HubConnectionState.Connected);
        const joined = await client.join(`document:${unique('')}`);
        assert.equal(joined.success, true, JSON.stringify(joined));
      }
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
  });

  await t.test('kill 2: node 2 down, nginx skips it', async () => {
    const oldPid = up.nodes[1].pid;
    const s = lastJson(await run('kill', '2'));
    assertShape(s);
    assert.deepEqual(s.nodes.map((n) => n.state), ['up', 'down', 'up']);
    assert.equal(alive(oldPid), false);
    assert.deepEqual(await status(), s);
    // Passive health: the refused connection is retried on another node, so no request fails.
    for (let i = 0; i < 6; i++) assert.equal((await fetch(`${lb}/health`)).status, 200);
  });

  await t.test('restart 2: up again with a new process', async () => {
    const s = lastJson(await run('restart', '2'));
    assertShape(s);
    assert.deepEqual(s.nodes.map((n) => n.state), ['up', 'up', 'up']);
    assert.notEqual(s.nodes[1].pid, up.nodes[1].pid);
    assert.equal((await fetch(`${s.nodes[1].url}/ready`)).status, 200);
  });

  await t.test('pause 3 / resume 3', async () => {
    const paused = lastJson(await run('pause', '3'));
    assert.equal(paused.nodes[2].state, 'paused');
    assert.equal(paused.nodes[2].pid, up.nodes[2].pid);
    assert.equal((await status()).nodes[2].state, 'paused');
    const resumed = lastJson(await run('resume', '3'));
    assert.equal(resumed.nodes[2].state, 'up');
    assert.equal((await fetch(`${resumed.nodes[2].url}/health`)).status, 200);
  });

  await t.test('down leaves no process behind (idempotent)', async () => {
    const before = await status();
    const pids = before.nodes.map((n) => n.pid).filter(Boolean);
    const nginxPid = Number(readFileSync(join(state, 'nginx/nginx.pid'), 'utf8'));
    const pgPid = Number(readFileSync(join(state, 'pg/postmaster.pid'), 'utf8').split('\n')[0]);
    assert.ok(alive(nginxPid) && alive(pgPid));
    await run('down');
    downDone = true;
    for (const pid of [...pids, nginxPid, pgPid]) assert.equal(alive(pid), false, `pid ${pid} still alive`);
    assert.equal(existsSync(join(state, 'pg/postmaster.pid')), false);
    const s = await status();
    assert.deepEqual(s.nodes.map((n) => n.state), ['down', 'down', 'down']);
    await run('down');
    assert.equal((await fetch(`${lb}/health`).catch(() => null)), null, 'nginx still answers');
  });
});
