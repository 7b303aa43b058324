// Lock hand-over requests (issue 15 §1), end to end: the widget's chunk (option lockRequests) against the real
// node. This file starts a node of its own (embedded, a temporary data dir) with tests/browser/fixtures/
// resources.handover.yml: the shipped resources plus a document sub-resource `quick` whose lockRequestTimeout
// is 3 s, so the automatic pass (and its absence while the holder types) is seen without waiting a minute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const dll = process.env.COLLAB_NODE_DLL ?? join(root, 'src', 'Node', 'bin', 'Release', 'net10.0', 'CollabAkka.Node.dll');
const port = await new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const dataDir = mkdtempSync(join(tmpdir(), 'collab-handover-'));
const nodeProcess = spawn('dotnet', [dll, '--urls', `http://127.0.0.1:${port}`, '--Collab:Profile=embedded', `--Collab:DataDir=${dataDir}`,
  `--Collab:ResourcesFile=${join(root, 'tests', 'browser', 'fixtures', 'resources.handover.yml')}`, `--Collab:WidgetDir=${join(root, 'src', 'Widget', 'dist')}`,
  '--Collab:ConsoleLogs=false'], { stdio: 'ignore' });
process.env.COLLAB_URL = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`${process.env.COLLAB_URL}/health`)).ok) break; } catch { /* not up yet */ }
  if (i > 150 || nodeProcess.exitCode !== null) throw new Error('the node for handover.test.mjs did not start');
  await new Promise((r) => setTimeout(r, 200)); // polling the node's health while it starts
}
const { launch, openTestPage, synced, unique, waitShadow, devToken, baseUrl } = await import('./lib/harness.mjs');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); nodeProcess.kill(); rmSync(dataDir, { recursive: true, force: true }); });

const body = '<label>Notes <textarea id="notes"></textarea></label><label>Plan <input id="plan"></label>';
const shadow = (page, fn, arg) => page.evaluate(([fn, arg]) => new Function('root', 'arg', `return (${fn})(root, arg)`)(document.querySelector('[data-collab-sdk-root]').shadowRoot, arg), [fn.toString(), arg]);

/** The audit rows of one resource and type, read through GET /api/audit as an auditor. */
async function audit(resourceId, eventType) {
  const token = await devToken(unique('auditor-'), 'Auditor', 'auditor');
  const r = await fetch(`${baseUrl}/api/audit?${new URLSearchParams({ resourceId, eventType })}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.json()).items;
}

/** Hub calls and events of the page's provider, recorded from the start. */
function record(page) {
  return page.evaluate(() => {
    window.__events = [];
    for (const name of ['lock:requested', 'lock:handed-over', 'lock:request-declined']) {
      collab.provider.onHubEvent(name, (b) => window.__events.push({ name, payload: b.payload }));
    }
  });
}

async function twoClinicians(sub = 'tab') {
  const resourceId = `document:${unique('p')}/${sub}:notes`;
  const init = JSON.stringify({ resourceId, offlineCache: false, lockRequests: true });
  const a = await openTestPage(browser, { user: unique('smith-'), body, init });
  await synced(a.page);
  const b = await openTestPage(browser, { user: unique('jones-'), role: 'nurse', body, init });
  await synced(b.page);
  await a.page.waitForFunction(() => collab.provider.mode === 'editor' && !!collab.handover);
  await b.page.waitForFunction(() => collab.provider.mode === 'viewer' && !!collab.handover);
  await record(a.page);
  await record(b.page);
  const who = async (p) => p.evaluate(() => ({ userId: collab.provider.session.userId, username: collab.provider.session.username }));
  return { resourceId, a, b, holder: await who(a.page), requester: await who(b.page) };
}

test('request -> prompt -> hand over: the requester becomes the editor (a new fencing token) and the former holder is read-only', async () => {
  const { resourceId, a, b, holder, requester } = await twoClinicians();
  try {
    const before = await a.page.evaluate(() => collab.provider.lock);
    // B sees "Request edit" on the locked field's badge; the chunk came beside the bundle.
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `!el.hidden && el.textContent === 'Request edit'`);
    await shadow(b.page, (root) => root.querySelector('.badge[data-for="id-notes"] .req').click());
    await waitShadow(b.page, '.dlg[data-kind="request"][role="alertdialog"] input');
    assert.equal(await shadow(b.page, (root) => root.activeElement?.tagName), 'INPUT');
    await b.page.keyboard.type('Adding the allergy found on admission');
    await b.page.keyboard.press('Enter');
    await b.page.waitForFunction(() => !!collab.handover.myLockRequest?.lockRequestId);
    const mine = await b.page.evaluate(() => collab.handover.myLockRequest);
    assert.equal(mine.holder.userId, holder.userId);
    assert.equal(mine.reason, 'Adding the allergy found on admission');
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `el.disabled && el.textContent === 'Requested'`);

    // The holder is typing: the server's prompt appears, is announced, and does not take the focus.
    await a.page.locator('#notes').click();
    await a.page.keyboard.type('Seen on ward round.');
    await waitShadow(a.page, `.dlg[data-kind="handover"][data-request="${mine.lockRequestId}"]`, `el.textContent.includes(${JSON.stringify(requester.username)}) && el.textContent.includes('Adding the allergy')`);
    await waitShadow(a.page, '.announce', `el.textContent.includes('asks for the editing lock')`);
    assert.equal(await a.page.evaluate(() => document.activeElement.id), 'notes', 'the prompt took the focus from the field being typed in');
    // By keyboard: focus "Hand over", Enter.
    await shadow(a.page, (root) => root.querySelector('.dlg button.primary').focus());
    await a.page.keyboard.press('Enter');

    await b.page.waitForFunction(() => collab.provider.mode === 'editor' && !document.querySelector('#notes').readOnly);
    const lock = await b.page.evaluate(() => collab.provider.lock);
    assert.equal(lock.holder.userId, requester.userId);
    assert.equal(lock.fencingToken, before.fencingToken + 1);
    assert.notEqual(lock.lockId, before.lockId);
    await waitShadow(b.page, '.toast', `el.textContent.includes('The lock is yours')`);
    await a.page.waitForFunction(() => collab.provider.mode === 'viewer' && document.querySelector('#notes').readOnly);
    assert.equal(await a.page.locator('#notes').getAttribute('data-collab-state'), 'locked');
    await waitShadow(a.page, '.toast', `el.textContent.includes('You handed the editing lock to ${requester.username}')`);

    // The requester types; the former holder sees it (the server took the edit from the new holder).
    await b.page.locator('#notes').click();
    await b.page.keyboard.press('End');
    await b.page.keyboard.type(' Allergy: penicillin.');
    await a.page.waitForFunction(() => document.querySelector('#notes').value.endsWith('Allergy: penicillin.'));

    const [requested] = await audit(resourceId, 'LOCK_REQUESTED');
    assert.equal(requested.userId, requester.userId);
    const [over] = await audit(resourceId, 'LOCK_HANDED_OVER');
    assert.equal(over.userId, holder.userId);
    assert.equal(String(over.details.fencingToken), String(before.fencingToken + 1));
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('decline, and "Later" (Escape) which answers nothing; a role that may not lock is offered no request', async () => {
  const { resourceId, a, b, holder } = await twoClinicians();
  const student = await openTestPage(browser, { user: unique('student-'), role: 'viewer', body, init: JSON.stringify({ resourceId, offlineCache: false, lockRequests: true }) });
  try {
    await b.page.evaluate(() => collab.requestEdit(''));
    await b.page.waitForFunction(() => !!collab.handover.myLockRequest?.lockRequestId);
    const id = await b.page.evaluate(() => collab.handover.myLockRequest.lockRequestId);
    assert.equal(await b.page.evaluate(() => collab.handover.myLockRequest.reason), null, 'an empty reason is left out');
    await waitShadow(a.page, `.dlg[data-kind="handover"][data-request="${id}"]`);
    // Escape = Later: the prompt goes, nothing is answered; the request stays pending.
    await shadow(a.page, (root) => root.querySelector('.dlg button').focus());
    await a.page.keyboard.press('Escape');
    await a.page.waitForFunction(() => !document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.dlg'));
    assert.equal(await a.page.evaluate((id) => collab.handover.lockRequests.some((q) => q.lockRequestId === id), id), true);
    // Decline through the API the prompt uses.
    await a.page.evaluate((id) => collab.handover.answer(id, false), id);
    await waitShadow(b.page, '.toast', `el.textContent.includes('declined your edit request')`);
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `!el.disabled && el.textContent === 'Request edit'`);
    assert.equal(await b.page.evaluate(() => collab.handover.myLockRequest), null);
    assert.equal(await b.page.evaluate(() => collab.provider.mode), 'viewer');
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    const [declined] = await audit(resourceId, 'LOCK_REQUEST_DECLINED');
    assert.equal(declined.userId, holder.userId);
    // The student (role viewer) sees the lock but no "Request edit".
    await synced(student.page);
    await waitShadow(student.page, '.badge[data-for="id-notes"]', `el.textContent.includes(${JSON.stringify(holder.username)})`);
    assert.equal(await shadow(student.page, (root) => root.querySelector('.badge[data-for="id-notes"] .req').hidden), true);
  } finally {
    await a.context.close();
    await b.context.close();
    await student.context.close();
  }
});

test('after lockRequestTimeout the lock passes by itself when the holder is idle', async () => {
  const { resourceId, a, b, requester } = await twoClinicians('quick');
  try {
    const before = await a.page.evaluate(() => collab.provider.lock);
    await b.page.evaluate(() => collab.requestEdit('Night shift handover'));
    await b.page.waitForFunction(() => !!collab.handover.myLockRequest?.lockRequestId);
    // Nobody answers; the holder has not touched the field: the server passes the lock at autoPassAt.
    await b.page.waitForFunction(() => collab.provider.mode === 'editor' && !document.querySelector('#notes').readOnly, null, { timeout: 15000 });
    const event = await b.page.evaluate(() => window.__events.find((e) => e.name === 'lock:handed-over').payload);
    assert.equal(event.automatic, true);
    assert.equal(event.lock.fencingToken, before.fencingToken + 1);
    assert.equal(event.to.userId, requester.userId);
    await a.page.waitForFunction(() => collab.provider.mode === 'viewer' && document.querySelector('#notes').readOnly);
    const [expired] = await audit(resourceId, 'LOCK_REQUEST_EXPIRED');
    assert.equal(expired.details.outcome, 'handed_over');
    const [over] = await audit(resourceId, 'LOCK_HANDED_OVER');
    assert.equal(String(over.details.automatic), 'true');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('no automatic pass while the holder types: the request expires and the holder keeps the lock', async () => {
  const { resourceId, a, b } = await twoClinicians('quick');
  try {
    await a.page.locator('#notes').click(); // the focus is in the field: awareness says so
    await a.page.keyboard.type('Typing the discharge summary');
    await b.page.evaluate(() => collab.requestEdit('Can I?'));
    await b.page.waitForFunction(() => !!collab.handover.myLockRequest?.lockRequestId);
    await a.page.keyboard.type(', still typing');
    // The server's answer at the deadline: lock:request-declined, expired.
    await b.page.waitForFunction(() => window.__events.some((e) => e.name === 'lock:request-declined'), null, { timeout: 15000 });
    const ended = await b.page.evaluate(() => window.__events.find((e) => e.name === 'lock:request-declined').payload);
    assert.equal(ended.expired, true);
    await waitShadow(b.page, '.toast', `el.textContent.includes('got no answer')`);
    assert.equal(await b.page.evaluate(() => window.__events.some((e) => e.name === 'lock:handed-over')), false);
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    assert.equal(await a.page.evaluate(() => document.activeElement.id), 'notes');
    await a.page.keyboard.type('.');
    await b.page.waitForFunction(() => document.querySelector('#notes').value.endsWith('still typing.'));
    const [expired] = await audit(resourceId, 'LOCK_REQUEST_EXPIRED');
    assert.equal(expired.details.outcome, 'kept');
    assert.deepEqual(await audit(resourceId, 'LOCK_HANDED_OVER'), []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('without the lockRequests option nothing of it is loaded or shown', async () => {
  const resourceId = `document:${unique('p')}/tab:notes`;
  const init = JSON.stringify({ resourceId, offlineCache: false });
  const a = await openTestPage(browser, { user: unique('smith-'), body, init });
  const b = await openTestPage(browser, { user: unique('jones-'), role: 'nurse', body, init });
  try {
    await synced(a.page);
    await synced(b.page);
    await waitShadow(b.page, '.badge[data-for="id-notes"].locked');
    assert.equal(await shadow(b.page, (root) => root.querySelector('.badge[data-for="id-notes"] .req').hidden), true);
    assert.equal(await b.page.evaluate(() => [collab.handover, window.__collabSdkChunks]).then(JSON.stringify), '[null,null]');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
