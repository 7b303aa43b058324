// The generated hub contract is valid: /asyncapi.json against the official AsyncAPI 3.0.0 JSON schema
// (@asyncapi/specs, validated with ajv), and docs/wire-types.d.ts compiles with TypeScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { baseUrl } from './lib/collab.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('the served AsyncAPI document validates against the AsyncAPI 3.0.0 JSON schema', async () => {
  const doc = await (await fetch(`${baseUrl}/asyncapi.json`)).json();
  const schema = require('@asyncapi/specs/schemas/3.0.0-without-$id.json');
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const ok = validate(doc);
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 10), null, 2));
  assert.equal(doc.asyncapi, '3.0.0');
});

test('an AsyncAPI document with a broken operation is refused by the same validator', async () => {
  const doc = await (await fetch(`${baseUrl}/asyncapi.json`)).json();
  const first = Object.keys(doc.operations)[0];
  doc.operations[first].action = 'publish'; // AsyncAPI 2's word; 3.0 knows only send and receive
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  assert.equal(ajv.compile(require('@asyncapi/specs/schemas/3.0.0-without-$id.json'))(doc), false);
});

test('docs/wire-types.d.ts compiles with TypeScript in strict mode', () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', path.join(root, 'docs', 'wire-types.d.ts')], { stdio: 'pipe' });
});
