// The widget's TypeScript type-checks (esbuild only strips types when bundling), and its wire types cannot drift
// from the C# message records: src/Widget/src/provider/types.ts builds them from docs/wire-types.d.ts (imported as
// `@collab/wire-types` through the tsconfig's paths), which WireDocumentTests keeps equal to what the records
// generate. The second test proves the link: against a copy of the declarations with fields renamed and retyped,
// the same sources must fail to type-check, at the places that use those fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './lib/harness.mjs';

const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const widget = join(repoRoot, 'src', 'Widget');

/** Runs tsc on a project; returns its output, or null when it passed. */
function typeCheck(project) {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
    return null;
  } catch (err) {
    return `${err.stdout}${err.stderr}`;
  }
}

test('src/Widget type-checks with tsc --noEmit (strict)', () => {
  const errors = typeCheck(join(widget, 'tsconfig.json'));
  assert.equal(errors, null, `tsc reported errors:\n${errors}`);
});

test('a field renamed or retyped in docs/wire-types.d.ts (the C# records) fails the widget type-check', () => {
  const generated = readFileSync(join(repoRoot, 'docs', 'wire-types.d.ts'), 'utf8');
  // Each drift as the generator would write it after a change to a record; every one is a field the widget reads.
  const drifts = [
    ['PresenceUser.sessionId renamed', /(export interface PresenceUser \{[^}]*?)\bsessionId: string;/, '$1connectionId: string;', /presence\.ts.*Property 'sessionId' does not exist/],
    ['LockView.expiresAt retyped', /(export interface LockView \{[^}]*?)\bexpiresAt: string;/, '$1expiresAt: number;', /error TS/],
    ['JoinResult.mode retyped', /(export interface JoinResult \{[^}]*?)\bmode: string;/, '$1mode: number;', /types\.ts.*does not satisfy the constraint 'number'/],
    ["ErrorCode 'LOCK_NOT_HELD' renamed", /'LOCK_NOT_HELD'/, "'LOCK_MISSING'", /codes\.ts.*"LOCK_NOT_HELD"' is not assignable to type 'ErrorCode'/],
    ['ResourceUpdatedPayload.source renamed', /(export interface ResourceUpdatedPayload \{[^}]*?)\bsource: string;/, '$1origin: string;', /Property 'source' does not exist/],
    ["hub method 'doc:sync' renamed", /'doc:sync': \{/, "'document:sync': {", /sync\.ts.*'"doc:sync"' is not assignable to parameter of type/],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'collab-wire-drift-'));
  try {
    for (const [name, pattern, replacement, expected] of drifts) {
      assert.match(generated, pattern, `${name}: the generated file no longer has what this test changes`);
      const drifted = generated.replace(pattern, replacement);
      writeFileSync(join(dir, 'wire-types.d.ts'), drifted);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        extends: join(widget, 'tsconfig.json'),
        compilerOptions: { paths: { '@collab/wire-types': [join(dir, 'wire-types.d.ts')] } },
        include: [join(widget, 'src', '**', '*.ts')],
      }));
      const errors = typeCheck(join(dir, 'tsconfig.json'));
      assert.notEqual(errors, null, `${name}: the widget still type-checks, so its wire types are not tied to the generated ones`);
      assert.match(errors, expected, `${name}: tsc failed, but not where the field is used:\n${errors}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
