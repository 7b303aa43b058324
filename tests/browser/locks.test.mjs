// Locks and presence in the UI: one editor per document tab, the second sees read-only fields with the
// holder's name, releasing (leave or closing the window) hands the lock over, the panel counts users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openDemo, shadowText, synced, unique, valueIs, waitShadow } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const fieldState = (page, sel) => page.locator(sel).evaluate((el) => ({ ro: el.readOnly, state: el.getAttribute('data-collab-state'), cursor: getComputedStyle(el).cursor, outline: getComputedStyle(el).outlineColor }));

test('the second editor sees the fields read-only with the holder\'s name, a red border and a denial toast', async () => {
  const patient = unique('p');
  const smith = unique('smith-');
  const a = await openDemo(browser, { user: smith, role: 'doctor', patient });
  try {
    await synced(a.page);
    // The field's state attribute follows on the next animation frame (ui.layout), not with the status itself.
    await a.page.waitForFunction(() => document.querySelector('#chief-complaint').getAttribute('data-collab-state') === 'own-lock');
    const mine = await fieldState(a.page, '#chief-complaint');
    assert.deepEqual([mine.ro, mine.state], [false, 'own-lock']);
    await waitShadow(a.page, `.badge[data-for="id-chief-complaint"]`, `el.textContent.includes('You')`);
    assert.match(await shadowText(a.page, '.lock'), /You are editing · lock until \d\d:\d\d/);

    const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', patient });
    try {
      await synced(b.page);
      await b.page.waitForFunction(() => getComputedStyle(document.querySelector('#chief-complaint')).outlineColor === 'rgb(220, 38, 38)');
      const other = await fieldState(b.page, '#chief-complaint');
      assert.equal(other.ro, true);
      assert.equal(other.state, 'locked');
      assert.equal(other.cursor, 'not-allowed');
      assert.equal(other.outline, 'rgb(220, 38, 38)');
      await waitShadow(b.page, `.badge[data-for="id-findings"]`, `el.textContent.includes(${JSON.stringify(smith)})`);
      const badge = await shadowText(b.page, `.badge[data-for="id-findings"]`);
      assert.match(badge, new RegExp(`${smith} · until \\d\\d:\\d\\d`));
      await waitShadow(b.page, '.toast', `el.textContent.includes('Locked by ${smith}')`);
      // Typing does nothing on a locked field, and the holder's edits still arrive.
      await b.page.locator('#chief-complaint').pressSequentially('xyz', { timeout: 2000 }).catch(() => {});
      assert.equal(await b.page.locator('#chief-complaint').inputValue(), '');
      await a.page.locator('#chief-complaint').pressSequentially('Dyspnoea');
      await valueIs(b.page, '#chief-complaint', 'Dyspnoea');
    } finally {
      await b.context.close();
    }
  } finally {
    await a.context.close();
  }
});

test('closing the holder\'s window releases the lock at once and the waiting user becomes the editor', async () => {
  const patient = unique('p');
  const a = await openDemo(browser, { user: unique('smith-'), role: 'doctor', patient });
  await synced(a.page);
  const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', patient });
  try {
    await synced(b.page);
    assert.equal((await fieldState(b.page, '#findings')).ro, true);
    const closedAt = Date.now();
    await a.context.close(); // pagehide -> resource:leave: no grace period
    await b.page.waitForFunction(() => {
      const el = document.querySelector('#findings');
      return !el.readOnly && el.getAttribute('data-collab-state') === 'own-lock';
    }, null, { timeout: 15000 });
    const waited = Date.now() - closedAt;
    assert.ok(waited < 10000, `took ${waited} ms (the disconnect grace period is 30 s: leave must release at once)`);
    await waitShadow(b.page, '.toast', `el.textContent.includes('The lock is yours')`);
    await b.page.locator('#findings').pressSequentially('now mine');
    await b.page.waitForFunction(() => !CollabSDK.instances[0].provider.hasUnsentChanges);
  } finally {
    await b.context.close();
    await a.context.close().catch(() => {});
  }
});

test('destroy() leaves the resource, releasing the lock for the other user', async () => {
  const patient = unique('p');
  const a = await openDemo(browser, { user: unique('smith-'), role: 'doctor', patient });
  await synced(a.page);
  const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', patient });
  try {
    await synced(b.page);
    await a.page.evaluate(() => CollabSDK.instances[0].destroy());
    // The host page is left as it was: no widget attributes or elements remain.
    const leftovers = await a.page.evaluate(() => document.querySelectorAll('[data-collab-field],[data-collab-state],[data-collab-sdk-root],[data-collab-sdk-styles]').length);
    assert.equal(leftovers, 0);
    assert.equal(await a.page.locator('#findings').evaluate((el) => el.readOnly), false);
    await b.page.waitForFunction(() => !document.querySelector('#findings').readOnly, null, { timeout: 15000 });
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('the presence panel counts users on join and on close, with name, role and mode', async () => {
  const patient = unique('p');
  const smith = unique('smith-');
  const jones = unique('jones-');
  const a = await openDemo(browser, { user: smith, role: 'doctor', patient });
  try {
    await synced(a.page);
    await waitShadow(a.page, '.user-count', `el.textContent === '1'`);
    assert.equal(await shadowText(a.page, '.field-count'), '4');
    assert.match(await shadowText(a.page, '.status'), /Connected/);
    const b = await openDemo(browser, { user: jones, role: 'nurse', patient });
    await synced(b.page);
    await waitShadow(a.page, '.user-count', `el.textContent === '2'`);
    await waitShadow(b.page, '.user-count', `el.textContent === '2'`);
    const rows = await a.page.evaluate(() => Array.from(document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelectorAll('.users li'), (li) => li.textContent));
    assert.equal(rows.length, 2);
    assert.ok(rows[0].includes(`${smith} (you)`) && rows[0].includes('doctor') && rows[0].includes('editor'), rows[0]);
    assert.ok(rows[1].includes(jones) && rows[1].includes('nurse') && rows[1].includes('viewer'), rows[1]);
    // A user on another tab of the same record counts too (resource:all_users), labelled with the tab.
    const c = await openDemo(browser, { user: unique('patel-'), role: 'doctor', patient, tab: 'notes' });
    await synced(c.page);
    await waitShadow(a.page, '.user-count', `el.textContent === '3'`);
    const third = await a.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelectorAll('.users li')[2].textContent);
    assert.ok(third.includes('tab:notes'), third);
    await c.context.close();
    await b.context.close();
    await waitShadow(a.page, '.user-count', `el.textContent === '1'`);
    // Minimise to the floating icon and back.
    await a.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.minimise').click());
    await waitShadow(a.page, '.fab', `getComputedStyle(el).display === 'flex'`);
    assert.equal(await a.page.evaluate(() => getComputedStyle(document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.panel')).display), 'none');
    await a.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.fab').click());
    await waitShadow(a.page, '.panel', `getComputedStyle(el).display !== 'none'`);
  } finally {
    await a.context.close();
  }
});

test('a user focused on a field shows as an avatar with initials beside it on the other screen', async () => {
  const patient = unique('p');
  const a = await openDemo(browser, { user: unique('smith-'), role: 'doctor', patient });
  const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', patient });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.page.locator('#primary-diagnosis').focus();
    await waitShadow(b.page, '.avatars[data-for="id-primary-diagnosis"] .avatar');
    const tip = await shadowText(b.page, '.avatars[data-for="id-primary-diagnosis"] .tip');
    assert.match(tip, /smith-.* \(doctor\)/);
    await a.page.locator('#findings').focus();
    await waitShadow(b.page, '.avatars[data-for="id-findings"] .avatar');
    assert.equal(await b.page.evaluate(() => !!document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.avatars[data-for="id-primary-diagnosis"]')), false);
    // Closing A's window removes the avatar (the server clears departed clients' awareness).
    await a.context.close();
    await b.page.waitForFunction(() => !document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.avatars'), null, { timeout: 10000 });
  } finally {
    await a.context.close().catch(() => {});
    await b.context.close();
  }
});
