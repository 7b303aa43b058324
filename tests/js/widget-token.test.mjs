// The widget's token refresh timing (src/Widget/src/provider/token.ts), as a unit: when to ask the tokenProvider
// again. JWT times are whole seconds, so a token minted at 10.9 s says iat 10, exp 15: counted as a lifetime from
// when the widget got it, the refresh would come at 14.9 s + latency, which can be after the token expired (and a
// host that caches its token until expiry then hands out a new one, which moves the connection for no reason).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../../src/Widget/src/provider/token.ts', import.meta.url));
const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', write: false, platform: 'neutral', logLevel: 'silent' });
const { TokenSource } = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims) => `${b64url({ alg: 'none' })}.${b64url(claims)}.sig`;

async function sourceAt(nowMs, token, fn) {
  const realNow = Date.now;
  Date.now = () => nowMs;
  try {
    const source = new TokenSource(undefined, () => token);
    await source.next();
    return fn(source);
  } finally {
    Date.now = realNow;
  }
}

test('a token got late in its iat second is refreshed before its exp, with the whole margin left', async () => {
  // Got at 10.95 s; iat 10, exp 15: the refresh is due at 15 s - 20 % of 5 s = 14 s, 3.05 s from now.
  const delay = await sourceAt(10_950, jwt({ iat: 10, exp: 15 }), (s) => s.refreshIn(10_950));
  assert.equal(delay, 3_050);
});

test('a browser clock far from the token\'s iat counts the lifetime from when the token was got', async () => {
  // The browser is an hour ahead: exp looks long past, but the token has 5 s of life; refresh after 4 s.
  const got = 3_600_000 + 10_000;
  const delay = await sourceAt(got, jwt({ iat: 10, exp: 15 }), (s) => s.refreshIn(got));
  assert.equal(delay, 4_000);
});

test('a token offered by the SDK keeps the time it was got, not the time the connection asked for it', async () => {
  const realNow = Date.now;
  try {
    const got = 3_600_000 + 10_000; // a browser clock an hour off, so the lifetime counts from when it was got
    Date.now = () => got;
    const source = new TokenSource(undefined, () => 'unused');
    source.offer(jwt({ iat: 10, exp: 15 }));
    Date.now = () => got + 2_000; // the connection asks for it 2 s later
    await source.next();
    assert.equal(source.refreshIn(got + 2_000), 2_000, 'due 4 s after it was got');
  } finally {
    Date.now = realNow;
  }
});

test('without a tokenProvider there is nothing to refresh', () => {
  assert.equal(new TokenSource(jwt({ iat: 10, exp: 15 }), undefined).refreshIn(), null);
});
