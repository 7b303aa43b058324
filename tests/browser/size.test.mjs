// The widget's size: collab-sdk.js, what every page loads, within the specification's budget (about 50 KB
// gzipped); the code-split chunks are loaded only by the pages that need them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BUDGET_GZIP_BYTES } from '../../src/Widget/build.mjs';
import { baseUrl, distDir } from './lib/harness.mjs';

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

test(`collab-sdk.js is at most ${BUDGET_GZIP_BYTES / 1024} KB gzipped, as built and as the node serves it`, async () => {
  assert.equal(BUDGET_GZIP_BYTES, 50 * 1024);
  const js = readFileSync(join(distDir, 'collab-sdk.js'));
  const gzipped = gzipSync(js, { level: 9 }).length;
  const meta = JSON.parse(readFileSync(join(distDir, 'collab-sdk.meta.json'), 'utf8'));
  console.log(`# widget size ${kb(js.length)} minified, ${kb(gzipped)} gzipped; costs ${JSON.stringify(Object.fromEntries(Object.entries(meta.costs).map(([k, v]) => [k, kb(v)])))}`);
  assert.ok(gzipped <= BUDGET_GZIP_BYTES, `collab-sdk.js is ${kb(gzipped)} gzipped, over the budget of ${kb(BUDGET_GZIP_BYTES)}: ${JSON.stringify(meta.costs)}`);
  const served = await (await fetch(`${baseUrl}/api/widget`)).json();
  assert.equal(served.bytes, js.length, 'the node serves the bundle just built');
  assert.ok(served.gzipBytes <= BUDGET_GZIP_BYTES, `served gzip ${kb(served.gzipBytes)}`);
  // The full SignalR client is not in it: only transport 'auto' loads it, from its chunk.
  assert.ok(!js.includes('LongPollingTransport') && !js.includes('ServerSentEventsTransport'), 'SignalR transports are bundled');
  assert.ok(meta.chunks.signalr && served.chunks.signalr, 'the signalr chunk is built and served');
  assert.equal(served.chunks.signalr.integrity, meta.chunks.signalr.integrity);
});
