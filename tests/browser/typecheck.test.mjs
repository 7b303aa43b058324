// The widget's TypeScript type-checks (esbuild only strips types when bundling).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './lib/harness.mjs';

test('src/Widget type-checks with tsc --noEmit (strict)', () => {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'src', 'Widget', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    assert.fail(`tsc reported errors:\n${err.stdout}${err.stderr}`);
  }
});
