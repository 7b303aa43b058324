// Builds the browser widget: src/Widget/src/index.ts -> src/Widget/dist/collab-sdk.js (+ .gz),
// one minified IIFE exposing window.CollabSDK, with yjs, y-protocols and @microsoft/signalr bundled.
//   node src/Widget/build.mjs            build (run by ./run.sh and scripts/test.sh)
//   node src/Widget/build.mjs --check    also type-check with tsc
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(here, 'dist');
const outfile = join(outDir, 'collab-sdk.js');
mkdirSync(outDir, { recursive: true });

if (process.argv.includes('--check')) {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
}

const started = Date.now();
const result = await build({
  entryPoints: [join(here, 'src', 'index.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'CollabSDK',
  platform: 'browser',
  target: ['es2020'],
  outfile,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  banner: { js: '/*! CollabAkka collab-sdk.js | bundles yjs, y-protocols, lib0 (MIT) and @microsoft/signalr (MIT) */' },
});

const js = readFileSync(outfile);
const gz = gzipSync(js, { level: 9 });
writeFileSync(outfile + '.gz', gz);
const integrity = 'sha384-' + createHash('sha384').update(js).digest('base64');
writeFileSync(join(outDir, 'collab-sdk.js.meta.json'), JSON.stringify({ bytes: js.length, gzipBytes: gz.length, integrity }, null, 2));
const inputs = Object.entries(result.metafile.outputs[relative(process.cwd(), outfile)]?.inputs ?? {});
const byPackage = {};
for (const [path, info] of inputs) {
  const m = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  const key = m ? m[1] : 'widget';
  byPackage[key] = (byPackage[key] ?? 0) + info.bytesInOutput;
}
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`collab-sdk.js: ${kb(js.length)} minified, ${kb(gz.length)} gzipped (${Date.now() - started} ms) -> ${relative(root, outfile)}`);
if (process.argv.includes('--verbose')) {
  for (const [k, v] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(22)} ${kb(v)}`);
}
