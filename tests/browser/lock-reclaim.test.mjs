// Reconnecting gives the editor its lock back, also when the new connection's join reaches the node before the
// node has noticed the old connection is gone (a dead socket is noticed only after SignalR's client timeout): the
// join then hears LOCK_HELD with ourselves as the holder, and the widget asks again until the node hands the lock
// to the new connection (LOCK_REATTACHED), keeping the field editable; what was typed meanwhile reaches the server.
// The race is made certain by keeping the old socket open while the widget reconnects, and closing it later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openTestPage, synced, unique, devToken, baseUrl } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a join that races the old connection\'s end gets the lock back (reclaiming) and loses nothing typed meanwhile', async () => {
  const resourceId = `patient-chart:${unique('r')}`;
  const { page, context } = await openTestPage(browser, { user: unique('dr-'), body: '<textarea id="notes"></textarea>', init: JSON.stringify({ resourceId, offlineCache: false }) });
  try {
    await synced(page);
    await page.waitForFunction(() => collab.provider.mode === 'editor');
    await page.locator('#notes').pressSequentially('before ');
    await synced(page);
    // Reconnect while the old socket stays open (its stop() held back): the node still sees it holding the lock.
    await page.evaluate(() => {
      window.__joins = [];
      collab.provider.on('joined', (d) => window.__joins.push({ mode: d.mode, denied: d.lockDenied?.code ?? null, holder: d.lockDenied?.holder?.userId === collab.provider.session.userId, shown: collab.provider.lockDenied, reclaiming: collab.provider.reclaiming }));
      const old = collab.provider._connection;
      window.__closeOld = old.stop.bind(old);
      old.stop = () => Promise.resolve();
      void collab.provider._drop('test').then(() => collab.provider._connectNow());
    });
    await page.waitForFunction(() => window.__joins.length === 1 && collab.provider.reclaiming);
    // The node said LOCK_HELD by ourselves; the widget does not show that as someone else's lock.
    assert.deepEqual(await page.evaluate(() => window.__joins), [{ mode: 'viewer', denied: 'LOCK_HELD', holder: true, shown: null, reclaiming: true }]);
    // Still editable to the user while the lock comes back.
    assert.equal(await page.locator('#notes').evaluate((el) => el.readOnly), false);
    await page.locator('#notes').pressSequentially('while reclaiming ');
    await page.evaluate(() => window.__closeOld()); // the node notices the old connection's end: the lock is detached
    await page.waitForFunction(() => collab.provider.mode === 'editor' && !collab.provider.reclaiming && !!collab.provider.lock);
    await page.locator('#notes').pressSequentially('after');
    await synced(page);
    const reader = await devToken(unique('reader-'), 'Reader', 'nurse');
    const r = await fetch(`${baseUrl}/api/resources/${encodeURIComponent(resourceId)}/content`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal((await r.json()).content['id-notes'], 'before while reclaiming after');
    // No "locked by" toast about our own lock.
    assert.equal(await page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.toasts').textContent), '');
  } finally {
    await context.close();
  }
});
