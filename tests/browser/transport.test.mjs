// The hub connection: the default transport is the widget's own SignalR JSON client over one WebSocket
// (no negotiate, nothing loaded beyond collab-sdk.js); transport 'auto' loads the full @microsoft/signalr
// client from its chunk beside collab-sdk.js, checked by SRI, and co-edits the same way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, launch, openTestPage, synced, unique, valueIs } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const page = '<label>Note <textarea id="note"></textarea></label>';
const chunkRequests = (p) => p.evaluate(() => performance.getEntriesByType('resource').filter((e) => /collab-sdk\.[a-z0-9-]+\.js/.test(e.name)).map((e) => e.name));

test("transport 'auto' loads the SignalR chunk (versioned, with SRI) and co-edits with a page on the default transport", async () => {
  const resourceId = `patient-chart:${unique('t')}`;
  const a = await openTestPage(browser, { user: unique('a-'), body: page, init: JSON.stringify({ resourceId }) });
  const b = await openTestPage(browser, { user: unique('b-'), body: page, init: JSON.stringify({ resourceId, transport: 'auto' }) });
  try {
    await synced(a.page);
    await synced(b.page);
    assert.deepEqual(await chunkRequests(a.page), [], 'the default transport loads no chunk');
    const loaded = await chunkRequests(b.page);
    assert.equal(loaded.length, 1, JSON.stringify(loaded));
    const widget = await (await fetch(`${baseUrl}/api/widget`)).json();
    assert.equal(new URL(loaded[0]).pathname + new URL(loaded[0]).search, widget.chunks.signalr.url);
    assert.equal(await b.page.evaluate(() => typeof window.__collabSdkChunks.signalr.HubConnectionBuilder), 'function');
    await a.page.locator('#note').pressSequentially('from the WebSocket client');
    await valueIs(b.page, '#note', 'from the WebSocket client');
    await b.page.locator('#note').evaluate((el) => { el.focus(); el.setSelectionRange(el.value.length, el.value.length); });
    await a.page.evaluate(() => collab.destroy()); // hands the lock to b
    await b.page.waitForFunction(() => collab.provider.mode === 'editor', null, { timeout: 10000 });
    await b.page.keyboard.type(', and back over negotiate');
    await b.page.waitForFunction(() => !collab.provider.hasUnsentChanges);
    const text = await b.page.evaluate(() => collab.doc.getText('id-note').toString());
    assert.equal(text, 'from the WebSocket client, and back over negotiate');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a chunk that is not the one the bundle was built with is refused (SRI) and the provider does not connect', async () => {
  const b = await openTestPage(browser, {
    user: unique('b-'),
    body: page,
    init: JSON.stringify({ resourceId: `patient-chart:${unique('t')}`, transport: 'auto', offlineCache: false }),
    routes: (context) => context.route(/\/collab-sdk\.signalr\.js/, (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript', body: 'window.__collabSdkChunks = { signalr: { evil: true } };' })),
  });
  try {
    await b.page.waitForFunction(() => collab.provider.lastError === null && collab.status !== 'connected' &&
      performance.getEntriesByType('resource').some((e) => e.name.includes('collab-sdk.signalr.js')), null, { timeout: 10000 });
    await b.page.waitForTimeout(1000);
    assert.notEqual(await b.page.evaluate(() => collab.status), 'connected');
    assert.equal(await b.page.evaluate(() => window.__collabSdkChunks), undefined, 'the tampered chunk ran');
  } finally {
    await b.context.close();
  }
});

test('the chunk is served like the bundle: gzip, ETag, 304, immutable when versioned, integrity header', async () => {
  const widget = await (await fetch(`${baseUrl}/api/widget`)).json();
  const chunk = widget.chunks.signalr;
  const r = await fetch(`${baseUrl}${chunk.url}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /javascript/);
  assert.match(r.headers.get('cache-control'), /immutable/);
  assert.equal(r.headers.get('etag'), chunk.etag);
  assert.equal(r.headers.get('x-content-integrity'), chunk.integrity);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  const plain = await fetch(`${baseUrl}/collab-sdk.signalr.js`);
  assert.match(plain.headers.get('cache-control'), /max-age=300/);
  const again = await fetch(`${baseUrl}/collab-sdk.signalr.js`, { headers: { 'if-none-match': chunk.etag } });
  assert.equal(again.status, 304);
  assert.equal((await fetch(`${baseUrl}/collab-sdk.nope.js`)).status, 404);
  assert.equal((await fetch(`${baseUrl}/collab-sdk.UPPER.js`)).status, 404);
});
