// A node process of a test file's own (embedded profile, a temporary data dir, the built widget), for tests that
// need settings the shared node (COLLAB_URL of scripts/test.sh) does not have: short token lifetimes, webhook
// sources. startNode() points COLLAB_URL at it, so import harness.mjs after it (dynamically) to talk to this node.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dll = process.env.COLLAB_NODE_DLL ?? join(root, 'src', 'Node', 'bin', 'Release', 'net10.0', 'CollabAkka.Node.dll');

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

/** Starts a node with these extra arguments (e.g. '--Auth:DevTokenLifetime=00:00:06'); resolves once /health answers. */
export async function startNode(name, args = []) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `collab-${name}-`));
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn('dotnet', [dll, '--urls', url, '--Collab:Profile=embedded', `--Collab:DataDir=${dataDir}`,
    `--Collab:ResourcesFile=${join(root, 'config', 'resources.yml')}`, `--Collab:WidgetDir=${join(root, 'src', 'Widget', 'dist')}`,
    '--Collab:ConsoleLogs=false', ...args], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.env.COLLAB_URL = url;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch { /* not up yet */ }
    if (i > 150 || proc.exitCode !== null) throw new Error(`the node for ${name} did not start (exit code ${proc.exitCode})`);
    await new Promise((r) => setTimeout(r, 200)); // polling the node's health while it starts: there is no event to await
  }
  return {
    url,
    dataDir,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill();
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
