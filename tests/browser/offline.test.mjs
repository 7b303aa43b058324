// Offline: edits keep working without a connection, survive a reload (encrypted IndexedDB cache), and
// merge without loss when the connection returns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openTestPage, shadowText, synced, unique, valueIs, waitShadow } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const page = `
<label>Note <textarea id="note" rows="5" cols="60"></textarea></label>
<label>Plan <input id="plan" size="60"></label>
<label>Vitals <input id="vitals" size="60"></label>`;

const offline = (p) => p.waitForFunction(() => collab.status === 'offline', null, { timeout: 15000 });

/** Waits until the offline cache holds this text for a field: decrypts the record with the stored key (usable, not extractable). */
const cacheHolds = (p, field, text) => p.waitForFunction(async ([field, text]) => {
  const db = await new Promise((res, rej) => { const r = indexedDB.open('collab-sdk-offline'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const get = (store) => new Promise((res) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => res(r.result); });
  const [docs, keys] = [await get('docs'), await get('keys')];
  db.close();
  if (docs.length !== 1 || keys.length !== 1) return false;
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: docs[0].iv }, keys[0].key, docs[0].data);
  const doc = new CollabSDK.Y.Doc();
  CollabSDK.Y.applyUpdate(doc, new Uint8Array(plain));
  return doc.getText(field).toString() === text;
}, [field, text], { polling: 50 });

test('edits made offline in two contexts merge without loss after reconnecting', async () => {
  const init = JSON.stringify({ resourceId: `patient-chart:${unique('c')}` });
  const a = await openTestPage(browser, { user: unique('a-'), body: page, init });
  const b = await openTestPage(browser, { user: unique('b-'), body: page, init });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.page.locator('#note').fill('Baseline note.');
    await valueIs(b.page, '#note', 'Baseline note.');

    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await offline(a.page);
    await offline(b.page);
    // Still editable, shown in orange, and the panel says Offline.
    assert.equal(await a.page.locator('#note').evaluate((el) => [el.readOnly, el.getAttribute('data-collab-state')].join()), 'false,offline');
    assert.equal(await shadowText(a.page, '.status'), 'Offline');
    // Orange outline (after its short transition).
    await a.page.waitForFunction(() => getComputedStyle(document.querySelector('#note')).outlineColor === 'rgb(249, 115, 22)');

    await a.page.locator('#note').press('End');
    await a.page.locator('#note').pressSequentially(' A was here.');
    await a.page.locator('#plan').pressSequentially('Plan from A');
    await b.page.locator('#note').evaluate((el) => { el.focus(); el.setSelectionRange(0, 0); });
    await b.page.keyboard.type('B first. ');
    await b.page.locator('#vitals').pressSequentially('BP 120/80');
    // Nothing crossed while offline.
    assert.equal(await b.page.locator('#plan').inputValue(), '');

    const statuses = [];
    await a.page.exposeFunction('recordStatus', (s) => statuses.push(s));
    await a.page.evaluate(() => {
      const root = document.querySelector('[data-collab-sdk-root]').shadowRoot;
      new MutationObserver(() => window.recordStatus(root.querySelector('.sync').textContent)).observe(root.querySelector('.sync'), { childList: true, characterData: true, subtree: true });
    });
    await a.context.setOffline(false);
    await b.context.setOffline(false);
    await synced(a.page);
    await synced(b.page);
    const expected = 'B first. Baseline note. A was here.';
    await valueIs(a.page, '#note', expected);
    await valueIs(b.page, '#note', expected);
    await valueIs(a.page, '#vitals', 'BP 120/80');
    await valueIs(b.page, '#plan', 'Plan from A');
    await waitShadow(a.page, '.sync', `el.textContent === 'Synced'`);
    const syncing = statuses.indexOf('Syncing…');
    assert.ok(syncing >= 0 && statuses.indexOf('Synced', syncing) > syncing, statuses.join(' > '));
    // Everything acknowledged: the offline cache is gone again.
    await a.page.waitForFunction(() => collab.cacheState === 'none');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a reload while offline keeps unsent edits (encrypted at rest) and sends them once online', async () => {
  const init = JSON.stringify({ resourceId: `patient-chart:${unique('c')}` });
  const user = unique('a-');
  const a = await openTestPage(browser, { user, body: page, init, name: 'reload' });
  const b = await openTestPage(browser, { user: unique('b-'), body: page, init });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.context.setOffline(true);
    await offline(a.page);
    await a.page.locator('#note').pressSequentially('Patient reports dizziness');
    await a.page.waitForFunction(() => collab.cacheState === 'saved');
    await cacheHolds(a.page, 'id-note', 'Patient reports dizziness'); // saves trail the keystrokes by 40 ms

    // At rest the record is ciphertext under a non-extractable key.
    const atRest = await a.page.evaluate(async () => {
      const db = await new Promise((res, rej) => { const r = indexedDB.open('collab-sdk-offline'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const get = (store) => new Promise((res) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => res(r.result); });
      const [docs, keys] = [await get('docs'), await get('keys')];
      const bytes = new Uint8Array(docs[0].data);
      const text = Array.from(bytes, (c) => String.fromCharCode(c)).join('');
      let exported = 'refused';
      try { await crypto.subtle.exportKey('raw', keys[0].key); exported = 'exported!'; } catch { /* expected */ }
      db.close();
      return { records: docs.length, plaintext: text.includes('dizziness'), extractable: keys[0].key.extractable, exported, algorithm: keys[0].key.algorithm.name };
    });
    assert.deepEqual(atRest, { records: 1, plaintext: false, extractable: false, exported: 'refused', algorithm: 'AES-GCM' });

    // Reload while still offline (the page and the bundle come from the browser's side; the hub cannot be reached).
    await a.page.reload();
    await a.page.waitForFunction(() => window.collab && collab.restoredFromCache);
    await valueIs(a.page, '#note', 'Patient reports dizziness');
    await offline(a.page);
    assert.equal(await b.page.locator('#note').inputValue(), '', 'nothing was sent while offline');
    // Keep typing after the reload, then come back online.
    await a.page.locator('#note').press('End');
    await a.page.locator('#note').pressSequentially(' on standing');
    await a.context.setOffline(false);
    await synced(a.page);
    await valueIs(b.page, '#note', 'Patient reports dizziness on standing');
    await a.page.waitForFunction(() => collab.cacheState === 'none');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('destroy() wipes the offline cache and its key', async () => {
  const init = JSON.stringify({ resourceId: `patient-chart:${unique('c')}` });
  const a = await openTestPage(browser, { user: unique('a-'), body: page, init });
  try {
    await synced(a.page);
    await a.context.setOffline(true);
    await offline(a.page);
    await a.page.locator('#plan').pressSequentially('secret');
    await a.page.waitForFunction(() => collab.cacheState === 'saved');
    const counts = await a.page.evaluate(async () => {
      await collab.destroy();
      const db = await new Promise((res) => { const r = indexedDB.open('collab-sdk-offline'); r.onsuccess = () => res(r.result); });
      const count = (store) => new Promise((res) => { const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => res(r.result); });
      const out = [await count('docs'), await count('keys')];
      db.close();
      return out;
    });
    assert.deepEqual(counts, [0, 0]);
  } finally {
    await a.context.close();
  }
});
