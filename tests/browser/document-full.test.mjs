// A record has a size limit (Collab:Documents:MaxDocumentBytes: a document must fit in one message between nodes).
// An edit past it is refused with PAYLOAD_TOO_LARGE and changes nothing on the server; the page says so once (not on
// every retry), keeps the text the clinician typed and does not call it saved. What fit before is saved.
// This file starts a node of its own with a small limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './lib/node.mjs';

const node = await startNode('document-full', ['--Collab:Documents:MaxDocumentBytes=262144']);
const { launch, openTestPage, synced, unique, baseUrl, devToken } = await import('./lib/harness.mjs');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await node.stop(); });

const body = '<main><label>Notes <textarea id="notes"></textarea></label></main>';

const errorToasts = (page, text) => page.evaluate((t) => [...document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelectorAll('.toast.error')]
  .filter((el) => el.textContent.includes(t)).length, text);

test("an edit past the record's size limit is refused: the page says so once, keeps the text and does not call it saved", async () => {
  const resourceId = `document:${unique('p')}/tab:notes`;
  const user = unique('dr-');
  const { page } = await openTestPage(browser, { user, body, init: JSON.stringify({ resourceId, offlineCache: false }) });
  await synced(page);
  await page.evaluate(() => {
    window.__errors = [];
    collab.on('error', (e) => window.__errors.push(e));
  });

  const fits = 'a'.repeat(200_000);
  await page.locator('#notes').fill(fits);
  await synced(page, 30000); // acknowledged: nothing unsent
  const tooMuch = fits + 'b'.repeat(100_000);
  await page.locator('#notes').fill(tooMuch);

  // Refused, then refused again on the widget's retry: one toast for both.
  await page.waitForFunction(() => window.__errors.filter((e) => e.code === 'PAYLOAD_TOO_LARGE').length >= 2, null, { timeout: 30000 });
  const refusal = await page.evaluate(() => window.__errors.find((e) => e.code === 'PAYLOAD_TOO_LARGE').message);
  assert.match(refusal, /Collab:Documents:MaxDocumentBytes/);
  assert.equal(await errorToasts(page, 'too large to save'), 1);
  assert.equal(await page.evaluate(() => collab.provider.hasUnsentChanges), true, 'the refused edit must not count as saved');
  assert.equal(await page.$eval('#notes', (el) => el.value), tooMuch, 'the typed text stays on the page');

  // The server has what fit, nothing of the refused edit.
  const token = await devToken(user);
  const res = await fetch(`${baseUrl}/api/resources/${resourceId}/content`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, await res.clone().text());
  const content = (await res.json()).content;
  const notes = content['id-notes'];
  assert.ok(notes === fits, `the server has ${notes?.length} characters (${notes?.split('b').length - 1} of the refused b's), expected the ${fits.length} that fit; fields ${Object.keys(content)}`);
});
