// Issue 13 §2, the widget's half: a signed webhook from an external system (POST /api/webhooks/resource-updated)
// reaches the pages joined to that resource as the resourceUpdated event and a small notice "Updated in <source>
// by <who>"; the host page can turn the notice off (option updateNotice, attribute data-collab-update-notice);
// a page on another resource gets nothing. This file starts a node of its own with two webhook sources: EMR, and
// one whose name is markup (the notice must show it as text).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startNode } from './lib/node.mjs';

const SECRET = 'emr-browser-secret-0123456789';
const MARKUP_SOURCE = '<b>Lab</b> & <i>PACS</i>'; // a configuration key: no ':' and, on the command line, no '='
const node = await startNode('resource-updated', [
  `--Collab:Webhooks:Sources:EMR:Secrets:0=${SECRET}`,
  `--Collab:Webhooks:Sources:${MARKUP_SOURCE}:Secrets:0=${SECRET}`,
]);
const { launch, openTestPage, synced, unique, baseUrl } = await import('./lib/harness.mjs');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await node.stop(); });

const body = '<main><label>Notes <textarea id="notes"></textarea></label><label>Plan <input id="plan"></label></main>';

/** POSTs a correctly signed delivery (docs/INTEGRATION.md §2) and returns the node's answer. */
async function deliver(resourceId, { action = 'signed', source = 'EMR', data = { status: 'final' } } = {}) {
  const timestamp = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  const raw = JSON.stringify({ resourceType: resourceId.split(':')[0], resourceId, action, data, timestamp, source, deliveryId: unique('d-') });
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex');
  const r = await fetch(`${baseUrl}/api/webhooks/resource-updated`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-source': source, 'x-timestamp': ts, 'x-signature': signature },
    body: raw,
  });
  assert.equal(r.status, 200, await r.clone().text());
  return { answer: await r.json(), timestamp };
}

/** Opens a page on a resource, records its resourceUpdated events in window.__updates, waits until it is synced. */
async function open(resourceId, { init = {}, pageBody = body } = {}) {
  const opened = await openTestPage(browser, { user: unique('dr-'), body: pageBody, init: JSON.stringify({ resourceId, offlineCache: false, ...init }) });
  await opened.page.evaluate(() => { window.__updates = []; collab.on('resourceUpdated', (e) => window.__updates.push(e)); });
  await synced(opened.page);
  return opened;
}

const updates = (p, n) => p.waitForFunction((n) => window.__updates.length >= n && window.__updates, n).then((h) => h.jsonValue());
const notice = (p) => p.evaluate(() => {
  const n = document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice');
  return n && { text: n.firstChild.textContent, role: n.getAttribute('role'), live: n.getAttribute('aria-live'), html: n.innerHTML,
    dismiss: n.querySelector('button')?.getAttribute('aria-label'), visible: n.getClientRects().length > 0 };
});

test('a signed delivery for a root raises resourceUpdated and shows the notice in its family; the option and the attribute turn the notice off; other resources get nothing', async () => {
  const root = `document:${unique('p')}`;
  const other = `document:${unique('q')}`;
  const a = await open(`${root}/tab:notes`); // a child: a root's update reaches the whole family
  const b = await open(`${root}/tab:notes`, { init: { updateNotice: false } });
  const c = await open(`${root}/tab:plan`, { pageBody: `<div data-collab-update-notice="off">${body}</div>` });
  const d = await open(other);
  try {
    const { answer, timestamp } = await deliver(root, { data: { status: 'final', note: '<b>not markup</b>' } });
    assert.equal(answer.status, 'broadcasted');
    assert.equal(answer.recipients, 3, 'the three pages of the family, not the fourth');

    for (const p of [a.page, b.page, c.page]) {
      const [event] = await updates(p, 1);
      assert.equal(event.resourceId, root);
      assert.equal(event.resourceType, 'document');
      assert.equal(event.action, 'signed');
      assert.equal(event.source, 'EMR');
      assert.deepEqual(event.triggeredBy, { userId: 'EMR', username: 'EMR', action: 'webhook' });
      assert.equal(Date.parse(event.timestamp), Date.parse(timestamp));
      assert.deepEqual(event.data, { status: 'final', note: '<b>not markup</b>' });
      assert.ok(event.deliveryId);
    }

    // The notice, on A only: text, a polite status, a dismiss button; it goes when dismissed.
    await a.page.waitForFunction(() => !!document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice'));
    const shown = await notice(a.page);
    assert.deepEqual({ ...shown, html: undefined }, { text: 'Updated in EMR by EMR', role: 'status', live: 'polite', html: undefined, dismiss: 'Dismiss', visible: true });
    // Next to the resource's fields: just above the first one.
    const [box, field] = await a.page.evaluate(() => [document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice'), document.querySelector('#notes')]
      .map((el) => { const r = el.getBoundingClientRect(); return { left: r.left, top: r.top, bottom: r.bottom }; }));
    assert.ok(Math.abs(box.left - field.left) < 2 && box.bottom <= field.top && field.top - box.bottom < 40, JSON.stringify({ box, field }));
    assert.equal(await notice(b.page), null, 'updateNotice: false shows nothing');
    assert.equal(await notice(c.page), null, 'data-collab-update-notice="off" shows nothing');
    await a.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice button').click());
    assert.equal(await notice(a.page), null);

    // D, on another resource, got nothing: its first event is the one for its own resource, sent afterwards.
    await deliver(other, { action: 'updated' });
    const [own] = await updates(d.page, 1);
    assert.equal(own.resourceId, other);
    assert.equal(own.action, 'updated');
    assert.equal((await d.page.evaluate(() => window.__updates)).length, 1);
    assert.equal((await a.page.evaluate(() => window.__updates)).length, 1, 'A did not get the other resource\'s update');
  } finally {
    for (const p of [a, b, c, d]) await p.context.close();
  }
});

test('the notice shows a source named like markup as text, never as HTML, and hides by itself', async () => {
  const resourceId = `document:${unique('m')}`;
  const a = await open(resourceId);
  try {
    await deliver(resourceId, { source: MARKUP_SOURCE });
    const [event] = await updates(a.page, 1);
    assert.equal(event.source, MARKUP_SOURCE);
    await a.page.waitForFunction(() => !!document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice'));
    const shown = await notice(a.page);
    assert.equal(shown.text, `Updated in ${MARKUP_SOURCE} by ${MARKUP_SOURCE}`);
    assert.ok(!shown.html.includes('<b>') && shown.html.includes('&lt;b&gt;Lab&lt;/b&gt; &amp; &lt;i&gt;PACS&lt;/i&gt;'), shown.html);
    assert.equal(await a.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelectorAll('.notice b, .notice i').length), 0);
    // Not dismissed: it goes by itself (after 10 s).
    const shownAt = Date.now();
    await a.page.waitForFunction(() => !document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.notice'), null, { timeout: 20000 });
    assert.ok(Date.now() - shownAt > 5000, 'not at once');
  } finally {
    await a.context.close();
  }
});
