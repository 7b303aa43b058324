// The servers under test, each started as its own process on loopback so /proc can measure it alone:
//   collab      a CollabAkka node (the Release build of src/Node), SQLite in a fresh temp data directory
//   collab-pg   the same node with Collab:Store=postgres against $COLLAB_TEST_PG (scripts/pg.sh start)
//   collab-cluster  --nodes N CollabAkka node processes (default 3) forming one Akka.NET cluster on PostgreSQL
//               ($COLLAB_TEST_PG, a fresh schema per run): every node a seed, as deploy/local-cluster.sh starts them
//   hocuspocus  @hocuspocus/server 3.4.4 in memory, no extensions (hocuspocus-server.mjs)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const benchDir = path.resolve(here, '..');
export const repoRoot = path.resolve(here, '../../..');
export const TARGETS = ['collab', 'collab-pg', 'collab-cluster', 'hocuspocus'];
export const isCollab = (target) => target.startsWith('collab');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Every simulated client connects from 127.0.0.1: the node's per-address limits (there against floods from one
// address) are raised out of the way; --node-arg can set them again. A build without these settings ignores them.
const LOAD_FROM_ONE_ADDRESS = ['--Collab:Security:MaxConnectionsPerIp=1000000', '--Collab:Security:ConnectionAttemptsPerIpPerSecond=1000000',
  '--Collab:Security:ConnectionAttemptBurst=1000000', '--Collab:Security:UnauthenticatedRequestsPerIpPerSecond=1000000',
  '--Collab:Security:UnauthenticatedRequestBurst=1000000'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitHttp(url, proc, what) {
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} while starting`);
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within 90 s`);
}

function stopProcess(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30000);
    proc.once('exit', () => { clearTimeout(timer); resolve(); });
    proc.kill('SIGTERM');
  });
}

/** Starts one server; resolves with {target, url, httpUrl, pid, store, stop()}. */
export async function startServer(target, o) {
  if (target === 'collab-cluster') return startCollabCluster(o);
  if (isCollab(target)) return startCollab(target, o);
  if (target === 'hocuspocus') return startHocuspocus();
  throw new Error(`unknown target ${target}; use ${TARGETS.join(', ')}`);
}

async function startCollab(target, o) {
  const store = target === 'collab-pg' ? 'postgres' : 'sqlite';
  if (o.collabUrl) return { target, store: 'unknown (running node)', url: o.collabUrl.replace(/\/$/, ''), httpUrl: o.collabUrl, pid: null, stop: async () => {} };
  if (!fs.existsSync(o.nodeDll)) throw new Error(`${o.nodeDll} not found: dotnet build CollabAkka.sln -c Release`);
  const storeArgs = [];
  if (store === 'postgres') {
    const cs = process.env.COLLAB_TEST_PG;
    if (!cs) throw new Error('collab-pg needs COLLAB_TEST_PG: export COLLAB_TEST_PG=$(bash scripts/pg.sh start)');
    storeArgs.push('--Collab:Store=postgres', `--ConnectionStrings:Collab=${cs}`);
  }
  const storePid = store === 'postgres' ? postmasterPid(o.pgDir, process.env.COLLAB_TEST_PG) : null;
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(o.dataRoot, 'propagation-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const args = [o.nodeDll, '--urls', url, '--Collab:Profile=embedded', `--Collab:DataDir=${dataDir}`, '--Collab:ConsoleLogs=false',
    `--Collab:ResourcesFile=${path.join(repoRoot, 'config/resources.yml')}`, ...storeArgs, ...LOAD_FROM_ONE_ADDRESS, ...o.nodeArgs.map((kv) => `--${kv}`)];
  const proc = spawn('dotnet', args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  try { await waitHttp(`${url}/health`, proc, 'the node'); } catch (e) { proc.kill('SIGKILL'); throw new Error(`${e.message}\n${stderr}`); }
  return {
    target, store, url, httpUrl: url, pid: proc.pid, storePid,
    stop: async () => { await stopProcess(proc); fs.rmSync(dataDir, { recursive: true, force: true }); },
  };
}

/**
 * --nodes node processes as one cluster on PostgreSQL: each its own HTTP port, remoting port, data directory and node id
 * (b1, b2, ...), all of them seeds, one schema. Resolves once every node answers /health and the first one lists all
 * of them Up in /cluster/members. url/pid are the first node's; urls/pids all of them.
 */
async function startCollabCluster(o) {
  const cs = process.env.COLLAB_TEST_PG;
  if (!cs) throw new Error('collab-cluster needs COLLAB_TEST_PG: export COLLAB_TEST_PG=$(bash scripts/pg.sh start)');
  if (!fs.existsSync(o.nodeDll)) throw new Error(`${o.nodeDll} not found: dotnet build CollabAkka.sln -c Release`);
  const n = o.nodes;
  const schema = `bench_${Math.random().toString(36).slice(2, 10)}`;
  const http = []; const remoting = [];
  for (let i = 0; i < n; i++) { http.push(await freePort()); remoting.push(await freePort()); }
  const seeds = remoting.map((p, i) => `--Collab:Cluster:SeedNodes:${i}=akka.tcp://collab@127.0.0.1:${p}`);
  const nodes = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((x) => stopProcess(x.proc)));
    for (const x of nodes) fs.rmSync(x.dataDir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const url = `http://127.0.0.1:${http[i]}`;
      const dataDir = fs.mkdtempSync(path.join(o.dataRoot, 'propagation-bench-'));
      const args = [o.nodeDll, '--urls', url, '--Collab:Profile=embedded', `--Collab:DataDir=${dataDir}`, '--Collab:ConsoleLogs=false',
        `--Collab:ResourcesFile=${path.join(repoRoot, 'config/resources.yml')}`, '--Collab:Store=postgres', `--ConnectionStrings:Collab=${cs}`,
        `--Collab:Postgres:Schema=${schema}`, `--Collab:NodeId=b${i + 1}`, '--Collab:Cluster:Hostname=127.0.0.1', `--Collab:Cluster:Port=${remoting[i]}`,
        ...seeds, ...LOAD_FROM_ONE_ADDRESS, ...o.nodeArgs.map((kv) => `--${kv}`)];
      const proc = spawn('dotnet', args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
      const node = { url, dataDir, proc, stderr: '' };
      proc.stderr.on('data', (d) => { node.stderr = (node.stderr + d).slice(-4000); });
      nodes.push(node);
    }
    for (const x of nodes) {
      try { await waitHttp(`${x.url}/health`, x.proc, `node ${x.url}`); } catch (e) { throw new Error(`${e.message}\n${x.stderr}`); }
    }
    const deadline = Date.now() + 90000;
    for (;;) {
      let up = 0;
      try {
        const r = await fetch(`${nodes[0].url}/cluster/members`);
        if (r.ok) up = ((await r.json()).members ?? []).filter((m) => String(m.status).toLowerCase() === 'up').length;
      } catch { /* not yet */ }
      if (up >= n) break;
      if (Date.now() > deadline) throw new Error(`the cluster did not reach ${n} Up members within 90 s (last: ${up})`);
      await sleep(200);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    target: 'collab-cluster', store: 'postgres', nodes: n, url: nodes[0].url, httpUrl: nodes[0].url, urls: nodes.map((x) => x.url),
    pid: nodes[0].proc.pid, pids: nodes.map((x) => x.proc.pid), storePid: postmasterPid(o.pgDir, cs),
    stop: stopAll,
  };
}

/** The postmaster of the cluster in pgDir when it listens on the connection string's port (else null: not ours to measure). */
function postmasterPid(pgDir, connectionString) {
  try {
    const lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
    const port = /Port=(\d+)/i.exec(connectionString ?? '')?.[1] ?? '5432';
    return lines[3]?.trim() === port ? Number(lines[0]) : null;
  } catch { return null; }
}

async function startHocuspocus() {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(benchDir, 'hocuspocus-server.mjs'), String(port)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; if (out.includes('listening')) resolve(); });
    proc.once('exit', (code) => reject(new Error(`hocuspocus exited with ${code}: ${stderr}`)));
  });
  return { target: 'hocuspocus', store: 'memory', url: `ws://127.0.0.1:${port}`, httpUrl: `http://127.0.0.1:${port}`, pid: proc.pid, stop: () => stopProcess(proc) };
}

export async function devToken(baseUrl, userId, role = 'doctor') {
  const r = await fetch(`${baseUrl}/dev/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, username: userId, role }),
  });
  if (!r.ok) throw new Error(`dev token: HTTP ${r.status}`);
  return (await r.json()).token;
}

/** The text of the document's Y.Text "notes" as the server has it (for the convergence check). */
export async function serverText(server, docName, auditorToken) {
  if (isCollab(server.target)) {
    const r = await fetch(`${server.httpUrl}/api/resources/${docName}/content`, { headers: { authorization: `Bearer ${auditorToken}` } });
    return r.ok ? ((await r.json()).content?.notes ?? '') : null;
  }
  const r = await fetch(`${server.httpUrl}/content?name=${encodeURIComponent(docName)}`);
  return r.ok ? (await r.json()).notes : null;
}
