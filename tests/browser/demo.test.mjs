// The demo page as two clinicians see it: screenshots (artifacts/screenshots/) and the time from
// init() to the first synced state (artifacts/widget-metrics.json).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, baseUrl, launch, openDemo, screenshotsDir, synced, unique, waitShadow } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('screenshots: Dr. Smith editing, Nurse Jones seeing the lock and her avatar', async () => {
  const dir = screenshotsDir();
  const patient = unique('1042-');
  const viewport = { width: 1180, height: 860 };
  const a = await openDemo(browser, { user: 'dr-smith', role: 'doctor', patient, tab: 'diagnosis', viewport });
  const b = await openDemo(browser, { user: 'nurse-jones', role: 'nurse', patient, tab: 'diagnosis', viewport });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.page.locator('#chief-complaint').pressSequentially('Shortness of breath on exertion, 3 days');
    await a.page.locator('#primary-diagnosis').pressSequentially('Community-acquired pneumonia');
    await a.page.locator('[name="icd10"]').pressSequentially('J18.9');
    await a.page.locator('#findings').pressSequentially('Crackles right lower lobe. SpO2 93% on room air. CXR: RLL consolidation.');
    await b.page.waitForFunction(() => document.querySelector('#findings').value.endsWith('consolidation.'));
    await waitShadow(b.page, '.avatars[data-for="id-findings"] .avatar');
    await waitShadow(b.page, '.user-count', `el.textContent === '2'`);
    await waitShadow(a.page, '.user-count', `el.textContent === '2'`);
    // The receiving field flashes green when an edit lands: catch one in the picture.
    await a.page.locator('#findings').pressSequentially(' Start amoxicillin.');
    await b.page.waitForFunction(() => document.querySelector('#findings').hasAttribute('data-collab-flash'));
    await b.page.screenshot({ path: join(dir, 'demo-nurse-sees-lock.png') });
    await a.page.screenshot({ path: join(dir, 'demo-doctor-editing.png') });
    // Hovering the avatar shows full name and role.
    const avatar = b.page.locator('[data-collab-sdk-root] .avatars[data-for="id-findings"] .avatar').first();
    await avatar.hover();
    await b.page.screenshot({ path: join(dir, 'demo-avatar-tooltip.png'), clip: { x: 0, y: 150, width: 1180, height: 560 } });
    // The minimised panel.
    await b.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.minimise').click());
    await b.page.screenshot({ path: join(dir, 'demo-panel-minimised.png') });
    // Offline: orange fields, "Offline" in the panel.
    await a.context.setOffline(true);
    await a.page.waitForFunction(() => CollabSDK.instances[0].status === 'offline');
    await a.page.locator('#findings').pressSequentially(' Review in 48 h.');
    await a.page.waitForFunction(() => getComputedStyle(document.querySelector('#findings')).outlineColor === 'rgb(249, 115, 22)');
    await a.page.screenshot({ path: join(dir, 'demo-doctor-offline.png') });
    await a.context.setOffline(false);
    await synced(a.page);
    await b.page.waitForFunction(() => document.querySelector('#findings').value.endsWith('Review in 48 h.'));
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('init() to first synced state on the demo page, and the bundle size', async () => {
  const samples = [];
  const patient = unique('m');
  for (let i = 0; i < 7; i++) {
    const p = await openDemo(browser, { user: unique('u-'), role: 'doctor', patient, tab: 'notes' });
    await synced(p.page);
    samples.push(await p.page.evaluate(() => CollabSDK.instances[0].metrics.syncedMs));
    await p.context.close();
  }
  const sorted = samples.slice(1).sort((x, y) => x - y); // the first load warms the node up
  const median = sorted[Math.floor(sorted.length / 2)];
  const widget = await (await fetch(`${baseUrl}/api/widget`)).json();
  const metrics = {
    initToSyncedMs: { median: Math.round(median), min: Math.round(sorted[0]), max: Math.round(sorted[sorted.length - 1]), coldFirstLoad: Math.round(samples[0]) },
    bundle: { minifiedBytes: widget.bytes, gzipBytes: widget.gzipBytes, integrity: widget.integrity },
  };
  writeFileSync(join(artifacts, 'widget-metrics.json'), JSON.stringify(metrics, null, 2));
  test.diagnostic?.(JSON.stringify(metrics));
  console.log('# widget metrics', JSON.stringify(metrics));
  assert.ok(median < 2000, `init -> synced median ${median} ms`);
  // Served gzip with caching headers and an integrity hash.
  const r = await fetch(`${baseUrl}/collab-sdk.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('cache-control'), /max-age=\d+/);
  assert.ok(r.headers.get('etag'));
  assert.equal(r.headers.get('x-content-integrity'), widget.integrity);
  const again = await fetch(`${baseUrl}/collab-sdk.js`, { headers: { 'if-none-match': r.headers.get('etag') } });
  assert.equal(again.status, 304);
  const pinned = await fetch(`${baseUrl}${widget.url}`);
  assert.match(pinned.headers.get('cache-control'), /immutable/);
  assert.equal((await (await fetch(`${baseUrl}/collab-sdk.js.sri`)).text()), widget.integrity);
});
