// Builds the browser widget into src/Widget/dist (not committed):
//   collab-sdk.js          src/index.ts: one minified IIFE exposing window.CollabSDK, with yjs, y-protocols and
//                          lib0 bundled and a small SignalR JSON-protocol client of its own (provider/hub.ts)
//   collab-sdk.<chunk>.js  code-split parts only some pages need, loaded on first use (src/chunks.ts):
//                          signalr = the full @microsoft/signalr client, for transport 'auto'
//                          handover = the dialogs of lock hand-over requests (init option lockRequests)
//   *.gz, collab-sdk.meta.json  gzip copies; sizes, versions, SRI hashes and what each package costs
//
//   node src/Widget/build.mjs            build (run by ./run.sh and scripts/test.sh)
//   node src/Widget/build.mjs --check    also type-check with tsc
//   node src/Widget/build.mjs --verbose  also print what each package costs in the bundle
// The budget (BUDGET_GZIP_BYTES) is checked by tests/browser/size.test.mjs, which fails above it.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

/** The specification's "about 50 KB": collab-sdk.js gzipped, what every page loads. */
export const BUDGET_GZIP_BYTES = 50 * 1024;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(here, 'dist');

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  write: false,
};

/** The node's version of a file (WidgetEndpoints: first 16 hex digits of its SHA-256, the ETag). */
const versionOf = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const integrityOf = (bytes) => 'sha384-' + createHash('sha384').update(bytes).digest('base64');

/** Bytes in the output per package (node_modules/<pkg>) or 'widget' for our own sources. */
function costs(metafile) {
  const [output] = Object.values(metafile.outputs);
  const byPackage = {};
  for (const [path, info] of Object.entries(output.inputs)) {
    const m = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const key = m ? m[1] : 'widget';
    byPackage[key] = (byPackage[key] ?? 0) + info.bytesInOutput;
  }
  return Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1]));
}

function write(name, bytes) {
  const gz = gzipSync(bytes, { level: 9 });
  writeFileSync(join(outDir, name), bytes);
  writeFileSync(join(outDir, name + '.gz'), gz);
  return { file: name, bytes: bytes.length, gzipBytes: gz.length, version: versionOf(bytes), integrity: integrityOf(bytes) };
}

export async function buildWidget({ check = false } = {}) {
  if (check) {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();

  // Chunks first: the bundle carries their versions and hashes.
  const chunks = {};
  const chunkCosts = {};
  for (const name of ['signalr', 'handover']) {
    const result = await build({
      ...common,
      entryPoints: [join(here, 'src', 'chunks', `${name}.ts`)],
      outfile: join(outDir, `collab-sdk.${name}.js`),
      banner: { js: `/*! CollabAkka collab-sdk.${name}.js${name === 'signalr' ? ' | bundles @microsoft/signalr (MIT)' : ''} */` },
    });
    chunks[name] = write(`collab-sdk.${name}.js`, result.outputFiles[0].contents);
    chunkCosts[name] = costs(result.metafile);
  }

  const result = await build({
    ...common,
    entryPoints: [join(here, 'src', 'index.ts')],
    globalName: 'CollabSDK',
    outfile: join(outDir, 'collab-sdk.js'),
    define: {
      __COLLAB_CHUNKS__: JSON.stringify(Object.fromEntries(Object.entries(chunks).map(([k, c]) => [k, { file: c.file, version: c.version, integrity: c.integrity }]))),
    },
    banner: { js: '/*! CollabAkka collab-sdk.js | bundles yjs, y-protocols, lib0 (MIT) */' },
  });
  const bundle = write('collab-sdk.js', result.outputFiles[0].contents);
  const meta = { ...bundle, budgetGzipBytes: BUDGET_GZIP_BYTES, costs: costs(result.metafile), chunks, chunkCosts };
  writeFileSync(join(outDir, 'collab-sdk.meta.json'), JSON.stringify(meta, null, 2));
  return { meta, ms: Date.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { meta, ms } = await buildWidget({ check: process.argv.includes('--check') });
  const kb = (n) => (n / 1024).toFixed(1) + ' KB';
  const over = meta.gzipBytes > BUDGET_GZIP_BYTES;
  console.log(`collab-sdk.js: ${kb(meta.bytes)} minified, ${kb(meta.gzipBytes)} gzipped (budget ${kb(BUDGET_GZIP_BYTES)}${over ? ': OVER' : ''}) (${ms} ms) -> ${relative(root, outDir)}`);
  for (const c of Object.values(meta.chunks)) console.log(`  chunk ${c.file}: ${kb(c.bytes)} minified, ${kb(c.gzipBytes)} gzipped (loaded on demand)`);
  if (process.argv.includes('--verbose')) {
    for (const [k, v] of Object.entries(meta.costs)) console.log(`  ${k.padEnd(22)} ${kb(v)}`);
  }
}
