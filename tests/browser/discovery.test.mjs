// Auto-discovery: which fields become collaborative, their stable ids, and fields added or removed later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openDemo, openTestPage, synced, unique, valueIs } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const ids = (page) => page.evaluate(() => Array.from(CollabSDK.instances[0].fields.keys()).sort());

test('text inputs and textareas are discovered with stable ids; password, hidden and data-collab="off" are skipped', async () => {
  const patient = unique('p');
  const user = unique('smith-');
  const a = await openDemo(browser, { user, role: 'doctor', patient, tab: 'demographics' });
  try {
    await synced(a.page);
    const found = await ids(a.page);
    const placeholder = await a.page.evaluate(() => 'placeholder-' + (() => {
      let h = 0x811c9dc5; const s = 'Insurance number';
      for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
      return (h >>> 0).toString(36);
    })());
    assert.deepEqual(found, ['id-first-name', 'id-last-name', 'name-address', 'name-email', 'name-phone', placeholder].sort());
    assert.equal(await a.page.locator('#pin').getAttribute('data-collab-field'), null, 'password field must not be collaborative');
    assert.equal(await a.page.locator('input[type=hidden]').getAttribute('data-collab-field'), null);
    // The page's initial values seed the empty document (only the editor does that).
    await a.page.waitForFunction(() => CollabSDK.instances[0].doc.getText('id-first-name').toString() === 'Eleanor');
    // Same ids after a reload.
    await a.page.reload();
    await synced(a.page);
    assert.deepEqual(await ids(a.page), found);

    await a.page.goto(a.page.url().replace('tab=demographics', 'tab=diagnosis'));
    await synced(a.page);
    assert.deepEqual(await ids(a.page), ['id-chief-complaint', 'id-findings', 'id-primary-diagnosis', 'name-icd10']);
    assert.equal(await a.page.locator('[name="billing-ref"]').getAttribute('data-collab-field'), null, 'data-collab="off" is skipped');
  } finally {
    await a.context.close();
  }
});

test('fields without id, name or placeholder get position-based ids that are the same across reloads and browsers', async () => {
  const body = `<form><div><input><input type="search"></div><section><textarea></textarea></section>
    <input name="dup"><input name="dup"><input type="number"><input type="checkbox"><input disabled><input readonly></form>`;
  const init = JSON.stringify({ resourceId: `patient-chart:${unique('c')}` });
  const a = await openTestPage(browser, { user: unique('a-'), body, init, name: 'positions' });
  const b = await openTestPage(browser, { user: unique('b-'), body, init, name: 'positions' });
  try {
    await synced(a.page);
    await synced(b.page);
    const first = await ids(a.page);
    assert.equal(first.length, 5, first.join());
    assert.equal(first.filter((i) => i.startsWith('pos-')).length, 3);
    assert.ok(first.includes('name-dup') && first.includes('name-dup-2'));
    assert.deepEqual(await ids(b.page), first);
    await a.page.reload();
    await synced(a.page);
    assert.deepEqual(await ids(a.page), first);
    // And they are bound to the same Y.Text in both browsers.
    await a.page.locator('textarea').fill('by position');
    await valueIs(b.page, 'textarea', 'by position');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a dynamically added input becomes collaborative within 100 ms; removing and re-adding it restores its value', async () => {
  const patient = unique('p');
  const a = await openDemo(browser, { user: unique('smith-'), role: 'doctor', patient, tab: 'medication' });
  const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', patient, tab: 'medication' });
  try {
    await synced(a.page);
    await synced(b.page);
    // The app's own "Add allergy" button appends an input; measure until the widget has bound it.
    const bindMs = await a.page.evaluate(() => new Promise((resolve) => {
      const started = performance.now();
      document.getElementById('add-allergy').click();
      const check = () => {
        if (CollabSDK.instances[0].fields.has('name-allergy-2')) resolve(performance.now() - started);
        else setTimeout(check, 1);
      };
      check();
    }));
    assert.ok(bindMs < 100, `bound after ${bindMs} ms`);
    assert.equal(await a.page.locator('[name="allergy-2"]').getAttribute('data-collab-state'), 'own-lock');
    await b.page.locator('#add-allergy').click();
    await b.page.waitForFunction(() => CollabSDK.instances[0].fields.has('name-allergy-2'));
    await a.page.locator('[name="allergy-2"]').pressSequentially('Penicillin');
    await valueIs(b.page, '[name="allergy-2"]', 'Penicillin');

    // Removed: unbound (count drops); re-added with the same name: the value comes back from its Y.Text.
    await a.page.evaluate(() => document.querySelector('[name="allergy-2"]').remove());
    await a.page.waitForFunction(() => !CollabSDK.instances[0].fields.has('name-allergy-2'));
    assert.equal(await a.page.evaluate(() => CollabSDK.instances[0].fields.size), 3);
    await a.page.evaluate(() => {
      const input = document.createElement('input');
      input.name = 'allergy-2';
      document.getElementById('allergies').appendChild(input);
    });
    await valueIs(a.page, '[name="allergy-2"]', 'Penicillin');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('without a resourceId the page URL gives one (page:<host.path>, query and fragment left out) that the server accepts', async () => {
  const name = unique('derived');
  const a = await openTestPage(browser, { user: unique('a-'), body: '<input id="x">', name });
  try {
    await synced(a.page);
    const { resourceId, expected } = await a.page.evaluate(() => ({
      resourceId: collab.resourceId,
      expected: 'page:' + (location.host + location.pathname).toLowerCase().replace(/[^a-z0-9_.-]+/g, '.').replace(/^\.+|\.+$/g, ''),
    }));
    assert.equal(resourceId, expected);
    assert.match(resourceId, /^page:127\.0\.0\.1\.\d+\.__test\./);
    assert.equal(await a.page.evaluate(() => CollabSDK.deriveResourceId({ host: 'emr.example', pathname: '/patients/12/notes' })), 'page:emr.example.patients.12.notes');
  } finally {
    await a.context.close();
  }
});
