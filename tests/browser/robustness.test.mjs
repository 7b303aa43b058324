// What a clinician notices: IME composition left alone by remote edits, a field's initial value never doubled
// by two editors seeding it at once, single-page apps that change tabs without reloading, and refusals told
// apart by their error code whatever language the server's messages are in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openTestPage, synced, unique, valueIs } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const textOf = (page, id) => page.evaluate((id) => collab.doc.getText(id).toString(), id);
const idle = (page) => page.waitForFunction(() => collab.status === 'connected' && !collab.provider.hasUnsentChanges);

test('IME composition: a remote edit waits until compositionend, then lands without disturbing the composed text', async () => {
  const resourceId = `patient-chart:${unique('ime')}`;
  const init = JSON.stringify({ resourceId, offlineCache: false });
  const body = '<label>Diagnosis <input id="dx" size="60"></label>';
  const a = await openTestPage(browser, { user: unique('a-'), body, init });
  const b = await openTestPage(browser, { user: unique('b-'), body, init });
  try {
    await synced(a.page);
    await synced(b.page);
    await b.page.locator('#dx').fill('fever');
    await valueIs(a.page, '#dx', 'fever');
    // A composes Japanese at the end of the field with the browser's own IME machinery (CDP).
    await a.page.locator('#dx').evaluate((el) => {
      el.focus();
      el.setSelectionRange(el.value.length, el.value.length);
      window.imeLog = [];
      for (const t of ['compositionstart', 'compositionend']) el.addEventListener(t, () => imeLog.push(t));
    });
    const ime = await a.context.newCDPSession(a.page);
    await ime.send('Input.imeSetComposition', { text: ' ね', selectionStart: 2, selectionEnd: 2 });
    await ime.send('Input.imeSetComposition', { text: ' ねつ', selectionStart: 3, selectionEnd: 3 });
    assert.equal(await a.page.locator('#dx').inputValue(), 'fever ねつ');
    // B edits the start of the same field meanwhile; A's document has it, A's field does not (yet).
    await b.page.locator('#dx').evaluate((el) => { el.focus(); el.setSelectionRange(0, 0); });
    await b.page.keyboard.type('High ');
    await a.page.waitForFunction(() => collab.doc.getText('id-dx').toString() === 'High fever');
    await a.page.waitForTimeout(150); // a binding that wrote into the field would have done so by now
    assert.equal(await a.page.locator('#dx').inputValue(), 'fever ねつ', 'the remote edit was written into the composition');
    assert.equal(await a.page.evaluate(() => collab.fields.get('id-dx').composing), true);
    // The composition goes on undisturbed and is committed.
    await ime.send('Input.imeSetComposition', { text: ' ねつい', selectionStart: 4, selectionEnd: 4 });
    assert.equal(await a.page.locator('#dx').inputValue(), 'fever ねつい');
    await ime.send('Input.insertText', { text: ' 熱意' });
    assert.deepEqual(await a.page.evaluate(() => imeLog), ['compositionstart', 'compositionend']);
    // At compositionend both land: B's prefix and A's committed text, the caret after what A composed.
    await valueIs(a.page, '#dx', 'High fever 熱意');
    assert.deepEqual(await a.page.locator('#dx').evaluate((el) => [el.selectionStart, el.selectionEnd]), [13, 13]); // 'High fever 熱意'.length
    await valueIs(b.page, '#dx', 'High fever 熱意');
    await idle(a.page);
    assert.equal(await textOf(b.page, 'id-dx'), 'High fever 熱意');
    // A cancelled composition (nothing committed) with a remote edit meanwhile shows the shared text.
    await ime.send('Input.imeSetComposition', { text: 'x', selectionStart: 1, selectionEnd: 1 });
    await b.page.keyboard.type('Very ');
    await a.page.waitForFunction(() => collab.doc.getText('id-dx').toString() === 'High Very fever 熱意');
    await ime.send('Input.imeSetComposition', { text: '', selectionStart: 0, selectionEnd: 0 });
    await a.page.locator('#dx').evaluate((el) => el.dispatchEvent(new CompositionEvent('compositionend', { data: '' })));
    await valueIs(a.page, '#dx', 'High Very fever 熱意');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('two editors seeding the same empty field at the same moment do not double its initial value', async () => {
  const resourceId = `patient-chart:${unique('seed')}`;
  const init = JSON.stringify({ resourceId, offlineCache: false });
  const body = '<form id="form"></form>';
  const a = await openTestPage(browser, { user: unique('a-'), body, init });
  const b = await openTestPage(browser, { user: unique('b-'), body, init });
  try {
    await synced(a.page);
    await synced(b.page);
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    assert.equal(await b.page.evaluate(() => collab.provider.mode), 'editor');
    // The app renders its fields with their stored values in both windows at the same instant: both widgets
    // find an empty shared text and seed it before either hears of the other (updates go out after 20 ms).
    const at = Date.now() + 500;
    const render = (at) => new Promise((resolve) => setTimeout(() => {
      document.querySelector('#form').innerHTML =
        '<input id="first" value="Eleanor"><input id="last" value="Whitfield"><textarea id="history">Asthma since 1980</textarea>';
      resolve(performance.now());
    }, at - Date.now()));
    await Promise.all([a.page.evaluate(render, at), b.page.evaluate(render, at)]);
    await idle(a.page);
    await idle(b.page);
    await a.page.waitForTimeout(300);
    for (const [id, value] of [['first', 'Eleanor'], ['last', 'Whitfield'], ['history', 'Asthma since 1980']]) {
      assert.equal(await textOf(a.page, `id-${id}`), value, `${id} in A's document`);
      assert.equal(await textOf(b.page, `id-${id}`), value, `${id} in B's document`);
      assert.equal(await a.page.locator(`#${id}`).inputValue(), value);
      assert.equal(await b.page.locator(`#${id}`).inputValue(), value);
    }
    // A third window opened later reads the seeded values from the server.
    const c = await openTestPage(browser, { user: unique('c-'), body: '<input id="first" value="Eleanor">', init });
    try {
      await synced(c.page);
      assert.equal(await textOf(c.page, 'id-first'), 'Eleanor');
      assert.equal(await c.page.locator('#first').inputValue(), 'Eleanor');
    } finally {
      await c.context.close();
    }
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('history routing: pushState to another tab moves the widget (lock released there, new document here); back returns', async () => {
  const name = unique('spa');
  const body = '<main id="app"><textarea id="note"></textarea></main>';
  const init = JSON.stringify({ offlineCache: false });
  const a = await openTestPage(browser, { user: unique('a-'), body, init, name });
  const b = await openTestPage(browser, { user: unique('b-'), body, init, name });
  try {
    await synced(a.page);
    await synced(b.page);
    const first = await a.page.evaluate(() => collab.resourceId);
    assert.equal(await b.page.evaluate(() => collab.resourceId), first);
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    assert.equal(await b.page.evaluate(() => collab.provider.mode), 'viewer');
    await a.page.locator('#note').fill('tab one, by A');
    await valueIs(b.page, '#note', 'tab one, by A');
    // A's app switches to the medication tab the way routers do: pushState, then render the new tab.
    await a.page.evaluate(() => {
      window.moves = [];
      collab.on('resourceChanged', (e) => moves.push(e));
      history.pushState({}, '', location.pathname + '/medication');
      document.querySelector('#app').innerHTML = '<textarea id="meds"></textarea>';
    });
    const second = await a.page.evaluate(() => collab.resourceId);
    assert.equal(second, `${first}.medication`);
    assert.deepEqual(await a.page.evaluate(() => moves), [{ from: first, to: second }]);
    await synced(a.page);
    assert.equal(await a.page.evaluate(() => collab.provider.resourceId), second);
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    // A left tab one: B, waiting there, takes its lock at once.
    await b.page.waitForFunction(() => collab.provider.mode === 'editor', null, { timeout: 10000 });
    await a.page.locator('#meds').fill('Amoxicillin 500 mg');
    await idle(a.page);
    assert.equal(await textOf(a.page, 'id-meds'), 'Amoxicillin 500 mg');
    assert.equal(await b.page.evaluate(() => collab.doc.share.has('id-meds')), false, 'tab two leaked into tab one');
    // Back: popstate, the app renders tab one again, with tab one's document.
    await a.page.evaluate(() => {
      history.back();
      addEventListener('popstate', () => { document.querySelector('#app').innerHTML = '<textarea id="note"></textarea>'; }, { once: true });
    });
    await a.page.waitForFunction((first) => collab.resourceId === first, first);
    await synced(a.page);
    await valueIs(a.page, '#note', 'tab one, by A');
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'viewer', 'B holds tab one now');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a route change while offline keeps the unsent edits of the tab left; they are restored and sent when it is opened again', async () => {
  const name = unique('spa');
  const body = '<main id="app"><textarea id="note"></textarea></main>';
  const a = await openTestPage(browser, { user: unique('a-'), body, name });
  const b = await openTestPage(browser, { user: unique('b-'), body, name, init: JSON.stringify({ mode: 'viewer' }) });
  try {
    await synced(a.page);
    await synced(b.page);
    const first = await a.page.evaluate(() => collab.resourceId);
    await a.context.setOffline(true);
    await a.page.waitForFunction(() => collab.status === 'offline', null, { timeout: 15000 });
    await a.page.locator('#note').fill('written offline on tab one');
    await a.page.evaluate(() => history.pushState({}, '', location.pathname + '/plan'));
    await a.page.waitForFunction((first) => collab.resourceId !== first, first);
    assert.equal(await b.page.locator('#note').inputValue(), '', 'nothing was sent while offline');
    await a.page.evaluate(() => history.back());
    await a.page.waitForFunction((first) => collab.resourceId === first && collab.restoredFromCache, first, { timeout: 10000 });
    await valueIs(a.page, '#note', 'written offline on tab one');
    await a.context.setOffline(false);
    await synced(a.page);
    await valueIs(b.page, '#note', 'written offline on tab one');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('hash routing: a resourceId function is asked again on hashchange; #/ routes are part of the derived id', async () => {
  const chart = unique('hash');
  const init = `{ offlineCache: false, resourceId: () => 'patient-chart:${chart}/section:' + (location.hash.replace(/^#\\//, '') || 'summary') }`;
  const a = await openTestPage(browser, { user: unique('a-'), body: '<input id="f">', init });
  try {
    await synced(a.page);
    assert.equal(await a.page.evaluate(() => collab.resourceId), `patient-chart:${chart}/section:summary`);
    await a.page.locator('#f').fill('summary text');
    await idle(a.page);
    await a.page.evaluate(() => { location.hash = '#/allergies'; });
    await a.page.waitForFunction((id) => collab.resourceId === id, `patient-chart:${chart}/section:allergies`);
    await synced(a.page);
    await a.page.waitForFunction(() => document.querySelector('#f').value === '' || collab.doc.getText('id-f').toString() === document.querySelector('#f').value);
    // The same element now edits the allergies section (its page value seeds it, as on a fresh load).
    await a.page.locator('#f').fill('penicillin');
    await idle(a.page);
    assert.equal(await textOf(a.page, 'id-f'), 'penicillin');
    await a.page.evaluate(() => { location.hash = '#/summary'; });
    await a.page.waitForFunction((id) => collab.resourceId === id, `patient-chart:${chart}/section:summary`);
    await synced(a.page);
    await valueIs(a.page, '#f', 'summary text');
    // Without a resourceId, a hash route is part of the derived id; a plain anchor is not.
    assert.deepEqual(await a.page.evaluate(() => [
      CollabSDK.deriveResourceId({ host: 'emr.example', pathname: '/app', hash: '#/patients/12/notes' }),
      CollabSDK.deriveResourceId({ host: 'emr.example', pathname: '/app', hash: '#!/patients/12' }),
      CollabSDK.deriveResourceId({ host: 'emr.example', pathname: '/app', hash: '#section-2' }),
    ]), ['page:emr.example.app.patients.12.notes', 'page:emr.example.app.patients.12', 'page:emr.example.app']);
  } finally {
    await a.context.close();
  }
});

/**
 * Puts the page's hub traffic through a WebSocket route that replaces every human-readable text from the
 * server (message, modeReason, reason) with German, and counts the hub methods the page invokes.
 */
function translatingHub(calls) {
  const RS = '\x1e';
  const translate = (value) => {
    if (Array.isArray(value)) return value.map(translate);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) =>
        [k, ['message', 'modeReason', 'reason'].includes(k) && typeof v === 'string' ? `Übersetzt: ${v.length} Zeichen` : translate(v)]));
    }
    return value;
  };
  const rewrite = (frame) => typeof frame !== 'string' ? frame
    : frame.split(RS).map((r) => (r ? JSON.stringify(translate(JSON.parse(r))) : r)).join(RS);
  return (context) => context.routeWebSocket(/\/hubs\/collab/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      for (const r of String(frame).split(RS)) {
        if (!r) continue;
        const m = JSON.parse(r);
        if (m.type === 1) calls.push(m.target);
      }
      server.send(frame);
    });
    server.onMessage((frame) => ws.send(rewrite(frame)));
  });
}

test('refusals are recognised by error code: with every server message translated, a role that may not edit never asks for the lock, and a refused join is not retried', async () => {
  const patient = unique('p');
  const resourceId = `document:${patient}/tab:notes`;
  const doctor = await openTestPage(browser, { user: unique('dr-'), body: '<textarea id="n"></textarea>', init: JSON.stringify({ resourceId, offlineCache: false }) });
  const calls = [];
  const student = await openTestPage(browser, {
    user: unique('student-'), role: 'viewer', body: '<textarea id="n"></textarea>',
    init: JSON.stringify({ resourceId, offlineCache: false }), routes: translatingHub(calls),
  });
  try {
    await synced(doctor.page);
    await synced(student.page);
    assert.equal(await student.page.evaluate(() => collab.provider.mode), 'viewer');
    assert.match(await student.page.evaluate(() => collab.provider.modeReason), /^Übersetzt/, 'the route translates');
    // The doctor leaves: the lock is free. A student may not lock documents: no lock:acquire, however the reason reads.
    await doctor.page.evaluate(() => collab.destroy());
    await student.page.waitForFunction(() => collab.provider.locks.length === 0);
    await student.page.waitForTimeout(500);
    assert.deepEqual(calls.filter((c) => c.startsWith('lock:')), [], JSON.stringify(calls));
    assert.equal(await student.page.evaluate(() => collab.provider.mode), 'viewer');
    assert.equal(await student.page.locator('#n').evaluate((el) => el.readOnly), true);
  } finally {
    await doctor.context.close();
    await student.context.close();
  }
  // A join refused with VALIDATION_FAILED (a malformed resource id) stops; UNAVAILABLE-like failures would retry.
  const joins = [];
  const bad = await openTestPage(browser, {
    user: unique('dr-'), body: '<input id="x">', init: JSON.stringify({ resourceId: 'not a resource id!', offlineCache: false }), routes: translatingHub(joins),
  });
  try {
    await bad.page.waitForFunction(() => collab.provider.lastError?.code === 'VALIDATION_FAILED', null, { timeout: 10000 });
    await bad.page.waitForTimeout(1500); // the first reconnect would come after 0.25 s
    assert.deepEqual(joins.filter((c) => c === 'resource:join'), ['resource:join']);
    assert.equal(await bad.page.evaluate(() => collab.provider.shouldConnect), false);
    assert.match(await bad.page.evaluate(() => collab.provider.lastError.message), /^Übersetzt/);
  } finally {
    await bad.context.close();
  }
});
