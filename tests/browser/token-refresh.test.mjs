// Issue 12 item 9, the widget's half: the server closes a hub connection when its token expires
// (CloseOnAuthenticationExpiration); the widget's tokenProvider is asked for the first connection, before the token
// expires and on every reconnect, and the widget comes back without losing an edit. This file starts a node of its
// own whose dev tokens live 5 s (Auth:DevTokenLifetime; no clock skew), and types without a pause across several
// expiries; afterwards the server's content (GET /api/resources/{id}/content, a reader's token) holds every character.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';

const LIFETIME_S = 5;
const node = await startNode('token-refresh', [`--Auth:DevTokenLifetime=00:00:0${LIFETIME_S}`, '--Auth:ClockSkew=00:00:00']);
const { launch, openTestPage, synced, unique, devToken, baseUrl } = await import('./lib/harness.mjs');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await node.stop(); });

const body = '<label>Notes <textarea id="notes" rows="6" cols="80"></textarea></label>';

/**
 * A page whose widget has only a tokenProvider, which mints dev tokens from the node. `cache`: hand out the same
 * token until it has expired (a host that caches its token), so the widget cannot refresh early and the server
 * closes the connection; otherwise a fresh token on every call.
 */
async function openWithTokenProvider({ cache }) {
  const user = unique('dr-');
  const resourceId = `patient-chart:${unique('t')}`;
  const scripts = `<script>
window.__tokens = [];
window.__tokenProvider = async () => {
  const last = window.__tokens[window.__tokens.length - 1];
  if (${cache} && last && JSON.parse(atob(last.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp * 1000 > Date.now()) return last;
  const r = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: ${JSON.stringify(user)}, username: 'Dr. Token', role: 'doctor' }) });
  const token = (await r.json()).token;
  window.__tokens.push(token);
  return token;
};
window.__calls = 0;
const provide = window.__tokenProvider;
window.__tokenProvider = () => { window.__calls++; return provide(); };
</script>`;
  const init = `{ resourceId: ${JSON.stringify(resourceId)}, token: undefined, tokenProvider: window.__tokenProvider }`;
  const opened = await openTestPage(browser, { user, body, init, scripts });
  await opened.page.evaluate(() => {
    window.__sessions = [];
    window.__closes = [];
    window.__offline = [];
    collab.on('offline', (v) => window.__offline.push(v));
    collab.on('connected', (e) => window.__sessions.push(e.session?.sessionId ?? null));
    collab.provider.on('connection-close', (reason) => window.__closes.push(reason));
  });
  await synced(opened.page);
  await opened.page.waitForFunction(() => collab.provider.mode === 'editor');
  return { ...opened, resourceId };
}

/** Types into the field without pausing until `done()` holds in the page (or `max` characters); returns what was typed. */
async function typeAcross(page, done, max = 600) {
  await page.locator('#notes').click();
  let typed = '';
  const words = ['BP 120/80 ', 'HR 72 ', 'SpO2 98% ', 'T 36.8 ', 'RR 14 ', 'pain 2/10 '];
  for (let i = 0; typed.length < max && !(await page.evaluate(done)); i++) {
    const word = words[i % words.length];
    await page.keyboard.type(word, { delay: 25 });
    typed += word;
  }
  return typed;
}

async function serverText(resourceId) {
  const reader = await devToken(unique('reader-'), 'Reader', 'nurse');
  const r = await fetch(`${baseUrl}/api/resources/${encodeURIComponent(resourceId)}/content`, { headers: { authorization: `Bearer ${reader}` } });
  assert.equal(r.status, 200);
  return (await r.json()).content['id-notes'];
}

test('tokenProvider is asked again before the token expires and the widget moves to a new connection; nothing typed meanwhile is lost', async () => {
  const { page, context, resourceId } = await openWithTokenProvider({ cache: false });
  try {
    assert.equal(await page.evaluate(() => window.__calls), 1, 'one call for the first connection (the SDK reads the user from it too)');
    // Two refreshes: over 2 x 0.8 x 5 s of typing.
    const typed = await typeAcross(page, () => window.__calls >= 3 && window.__sessions.length >= 3);
    const seen = await page.evaluate(() => ({ calls: window.__calls, sessions: window.__sessions, closes: window.__closes }));
    assert.ok(seen.calls >= 3, JSON.stringify(seen));
    assert.ok(new Set(seen.sessions).size >= 3, `a new connection per token: ${JSON.stringify(seen)}`);
    assert.ok(seen.closes.includes('token-refresh'), `the widget switched before the server closed: ${JSON.stringify(seen)}`);
    assert.deepEqual(await page.evaluate(() => window.__offline), [], 'a planned move to a new token is not "offline" for the page');
    await synced(page);
    assert.equal(await page.locator('#notes').inputValue(), typed);
    assert.equal(await serverText(resourceId), typed, 'the server has every character typed');
    assert.equal(await page.evaluate(() => collab.provider.mode), 'editor', 'the lock came back with the new connection');
  } finally {
    await context.close();
  }
});

test('when the host hands out the same token until it expires, the server closes the connection, the widget asks again and reconnects, and unsent edits are re-sent', async () => {
  const { page, context, resourceId } = await openWithTokenProvider({ cache: true });
  try {
    // Until the server closed a connection (at the token's expiry) and the widget is back on a new token.
    const typed = await typeAcross(page, () => window.__closes.length >= 1 && window.__tokens.length >= 2 && window.__sessions.length >= 2
      && collab.status === 'connected');
    const seen = await page.evaluate(() => ({ calls: window.__calls, tokens: window.__tokens.length, sessions: window.__sessions, closes: window.__closes }));
    assert.ok(seen.calls >= 2 && seen.tokens >= 2, JSON.stringify(seen));
    assert.ok(!seen.closes.includes('token-refresh'), `the same token is no reason to reconnect: ${JSON.stringify(seen)}`);
    assert.ok(typed.length < 600, 'the connection came back before the typing ran out');
    await synced(page);
    assert.equal(await page.locator('#notes').inputValue(), typed);
    assert.equal(await serverText(resourceId), typed, 'the server has every character typed, including those typed while reconnecting');
    assert.equal(await page.evaluate(() => collab.provider.mode), 'editor');
  } finally {
    await context.close();
  }
});
