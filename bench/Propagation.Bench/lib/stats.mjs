// Percentiles, medians, and the marks that say whether a run's numbers can be trusted.

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** p50/p90/p99/max/mean of samples (arrays or typed arrays, possibly several). */
export function summary(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const s = new Float64Array(n);
  let i = 0;
  for (const p of parts) { s.set(p, i); i += p.length; }
  s.sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { count: n, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: n ? s[n - 1] : NaN, mean: n ? sum / n : NaN };
}

export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Thresholds of the marks (README "Trusting a run").
export const LIMITS = {
  generatorProcessCores: 0.7, // one worker process busier than 70 % of a core: it cannot keep its schedule reliably
  latenessP99Ms: 10, // typing timers fired late: the generator, not the server, delayed the sends
  loopDelayP99Ms: 20, // a worker's event loop was blocked this long beyond its 10 ms timer
  sentRatio: 0.98, // fewer inserts sent than scheduled
  runQueueWait: 0.1, // a worker's event loop waited for a CPU more than 10 % of the window (/proc/<pid>/schedstat)
  othersCores: 0.25, // other processes on the machine used more than a quarter of a core on average
  fullMachine: 0.9, // the machine (server + generator + others) was more than 90 % busy: everyone waited for a core
};

/** Marks of one measured window: STARVED (the generator), BUSY (other load), FULL (no idle core at all). */
export function marks(fig, cores) {
  const m = [];
  const starved = [];
  if (fig.cpu.generatorMaxProcessCores > LIMITS.generatorProcessCores) starved.push(`worker ${(100 * fig.cpu.generatorMaxProcessCores).toFixed(0)} % of a core`);
  if (fig.latenessMs.p99 > LIMITS.latenessP99Ms) starved.push(`timers late p99 ${fig.latenessMs.p99.toFixed(1)} ms`);
  if (fig.loopDelayP99Ms > LIMITS.loopDelayP99Ms) starved.push(`event-loop delay p99 ${fig.loopDelayP99Ms.toFixed(1)} ms`);
  if (fig.cpu.generatorMaxRunQueueWait > LIMITS.runQueueWait) starved.push(`worker waited for a CPU ${(100 * fig.cpu.generatorMaxRunQueueWait).toFixed(0)} % of the time`);
  if (fig.sent < LIMITS.sentRatio * fig.sentTarget) starved.push(`sent ${fig.sent}/${Math.round(fig.sentTarget)}`);
  if (starved.length) m.push('STARVED');
  const busy = [];
  if (fig.cpu.othersCores > LIMITS.othersCores) busy.push(`others ${fig.cpu.othersCores.toFixed(2)} cores`);
  // The load average (printed with every run) is a 1-minute moving average: it still shows the previous minute's
  // builds after they ended, so the mark uses the other processes' CPU measured over the window itself.
  if (busy.length) m.push('BUSY');
  if (fig.cpu.machineBusyCores > LIMITS.fullMachine * cores) m.push('FULL');
  return { marks: m, why: [...starved, ...busy] };
}
