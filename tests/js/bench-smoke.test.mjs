// Keeps bench/Propagation.Bench working: a few seconds of its co-editing load with a handful of clients, against
// the started node (COLLAB_URL) and against its own Hocuspocus process. Not a benchmark: no figure is asserted
// except delivery, acknowledgement and convergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseUrl } from './lib/collab.mjs';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/Propagation.Bench/bench.mjs');

function runBench(args) {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-')), 'out.json');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bench, ...args, '--json', json], { timeout: 90000 }, (err, stdout, stderr) => {
      if (err) { reject(new Error(`${err.message}\n${stdout}\n${stderr}`)); return; }
      resolve({ stdout, result: JSON.parse(fs.readFileSync(json, 'utf8')) });
    });
  });
}

const small = ['--clients', '10', '--docs', '2', '--rate', '4', '--warmup', '0.5', '--duration', '1.5', '--workers', '2'];

for (const target of ['collab', 'hocuspocus']) {
  test(`the propagation bench delivers, acknowledges and converges against ${target}`, async () => {
    const extra = target === 'collab' ? ['--collab-url', baseUrl] : [];
    const { stdout, result } = await runBench(['--scenario', '100', '--targets', target, ...small, ...extra]);
    assert.equal(result.sessions.length, 1, stdout);
    const [s] = result.sessions;
    const f = s.steps[0];
    assert.ok(f.sent > 0, stdout);
    assert.equal(f.deliveries, f.expectedDeliveries, stdout);
    assert.equal(f.ackMs.count, f.sent, stdout);
    assert.equal(s.converged, 2, stdout);
    assert.deepEqual(f.errors, {}, stdout);
    assert.match(stdout, /collab \/ hocuspocus|median/);
  });
}
