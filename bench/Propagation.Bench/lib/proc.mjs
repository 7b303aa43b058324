// What /proc says about a process and about the machine: CPU (utime + stime of every thread), resident memory, the
// machine's busy time and load average. Linux only; on other systems the figures are NaN.
import { execSync } from 'node:child_process';
import fs from 'node:fs';

const clockTicks = (() => { try { return Number(execSync('getconf CLK_TCK').toString().trim()) || 100; } catch { return 100; } })();

/** CPU time of a process (all threads, not its children), in ms. */
export function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime + stime
  } catch { return NaN; }
}

/**
 * Time the process spent runnable but waiting for a CPU (the scheduler's run queue; /proc/<pid>/schedstat, field 2),
 * in ms: of its main thread (a Node process's event loop) or of all its threads.
 */
export function runQueueWaitMs(pid, allThreads = false) {
  const read = (file) => Number(fs.readFileSync(file, 'utf8').split(' ')[1]) / 1e6;
  try {
    if (!allThreads) return read(`/proc/${pid}/schedstat`);
    let total = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) { try { total += read(`/proc/${pid}/task/${tid}/schedstat`); } catch { /* exited */ } }
    return total;
  } catch { return NaN; }
}

/** CPU time of a process and of all its descendants alive now (e.g. a PostgreSQL postmaster and its backends), in ms. */
export function treeCpuMs(rootPid) {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited */ }
  }
  const inTree = (pid) => { for (let p = pid, n = 0; p > 1 && n < 64; p = parent.get(p) ?? 0, n++) if (p === rootPid) return true; return false; };
  let total = 0;
  for (const pid of parent.keys()) if (inTree(pid)) { const v = procCpuMs(pid); if (!Number.isNaN(v)) total += v; }
  return total;
}

/** VmRSS (now) and VmHWM (peak resident set since start) of a process, in MiB. */
export function procMemMiB(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => { const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(status); return m ? Number(m[1]) / 1024 : NaN; };
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch { return { rss: NaN, peak: NaN }; }
}

/** The machine's CPU time since boot, in ms: busy (user, nice, system, irq, softirq) and steal. */
export function machineCpuMs() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: ((user + nice + system + irq + softirq) * 1000) / clockTicks, steal: ((steal ?? 0) * 1000) / clockTicks };
  } catch { return { busy: NaN, steal: NaN }; }
}

/** The 1-minute load average and the number of runnable tasks (/proc/loadavg). */
export function loadAvg() {
  try {
    const [one, five, , running] = fs.readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/);
    return { one: Number(one), five: Number(five), running: Number(running.split('/')[0]) };
  } catch { return { one: NaN, five: NaN, running: NaN }; }
}

/** A snapshot of the CPU counters a run's window is measured between. */
export function sample(serverPid, generatorPids, storePid = null) {
  // Several server processes (a cluster): their CPU and waits are summed.
  const servers = Array.isArray(serverPid) ? serverPid : serverPid ? [serverPid] : [];
  const total = (f) => (servers.length ? servers.reduce((x, pid) => x + f(pid), 0) : NaN);
  return {
    at: performance.now(),
    server: total(procCpuMs),
    serverWait: total((pid) => runQueueWaitMs(pid, true)),
    generatorWait: generatorPids.map((pid) => runQueueWaitMs(pid)),
    store: storePid ? treeCpuMs(storePid) : NaN,
    generator: generatorPids.map(procCpuMs),
    machine: machineCpuMs(),
    load: loadAvg(),
  };
}

/** CPU used between two snapshots, in cores (1.0 = one core busy for the whole window). */
export function window(a, b) {
  const ms = b.at - a.at;
  const server = (b.server - a.server) / ms;
  const store = (b.store - a.store) / ms;
  const perProcess = b.generator.map((v, i) => (v - a.generator[i]) / ms);
  const generator = perProcess.reduce((x, y) => x + y, 0);
  const busy = (b.machine.busy - a.machine.busy) / ms;
  return {
    seconds: ms / 1000,
    serverCores: server,
    storeCores: store, // the database server's processes (collab-pg), NaN when not measured
    generatorCores: generator,
    generatorMaxProcessCores: Math.max(...perProcess),
    generatorPerProcess: perProcess,
    // Waiting for a CPU while runnable, as a share of the window: the busiest-waiting generator event loop, and the
    // server's threads together (1.0 = one thread waited the whole window).
    generatorMaxRunQueueWait: Math.max(...b.generatorWait.map((v, i) => (v - a.generatorWait[i]) / ms)),
    serverRunQueueWait: (b.serverWait - a.serverWait) / ms,
    machineBusyCores: busy,
    stealCores: (b.machine.steal - a.machine.steal) / ms,
    // Everything else on the machine: other engineers' builds and tests, the kernel, this script's own parent shell.
    othersCores: Math.max(0, busy - (Number.isNaN(server) ? 0 : server) - (Number.isNaN(store) ? 0 : store) - generator),
    loadStart: a.load,
    loadEnd: b.load,
  };
}
