// Lock hand-over requests, the widget's half (issue 15 §1): "Request edit" on a locked field, the form with
// a reason, the holder's prompt (not taking focus, announced, keyboard-operable), hand-over and decline as
// the panel and the fields show them. The server does not offer lock:request yet: a WebSocket route plays its
// part (answers lock:request and lock:request-answer, sends lock:requested, lock:handed-over and
// lock:request-declined with the payloads the widget proposes) and passes everything else to the real node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openTestPage, synced, unique, waitShadow } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const RS = '\x1e';
const body = '<label>Notes <textarea id="notes"></textarea></label><label>Plan <input id="plan"></label>';

/** A route that answers the hand-over methods itself; `hub.send(target, arg)` pushes an event to the page. */
function handoverHub(hub) {
  hub.calls = [];
  return (context) => context.routeWebSocket(/\/hubs\/collab/, (ws) => {
    const server = ws.connectToServer();
    hub.send = (target, arg) => ws.send(JSON.stringify({ type: 1, target, arguments: [arg] }) + RS);
    ws.onMessage((frame) => {
      const forward = [];
      for (const r of String(frame).split(RS)) {
        if (!r) continue;
        const m = JSON.parse(r);
        if (m.type === 1 && /^lock:request/.test(m.target)) {
          hub.calls.push({ target: m.target, arg: m.arguments[0] });
          const data = m.target === 'lock:request' ? hub.request(m.arguments[0]) : undefined;
          ws.send(JSON.stringify({ type: 3, invocationId: m.invocationId, result: { success: true, requestId: m.arguments[0].requestId, data, timestamp: new Date().toISOString() } }) + RS);
        } else {
          forward.push(r + RS);
        }
      }
      if (forward.length) server.send(forward.join(''));
    });
    server.onMessage((frame) => ws.send(frame));
  });
}

const broadcast = (event, resourceId, payload) => ({ event, resourceId, payload, triggeredBy: null, newRevision: 0, timestamp: new Date().toISOString() });
const shadow = (page, fn, arg) => page.evaluate(([fn, arg]) => new Function('root', 'arg', `return (${fn})(root, arg)`)(document.querySelector('[data-collab-sdk-root]').shadowRoot, arg), [fn.toString(), arg]);

async function twoClinicians(extra = {}) {
  const resourceId = `document:${unique('p')}/tab:notes`;
  const init = JSON.stringify({ resourceId, offlineCache: false, lockRequests: true, ...extra });
  const holderHub = {};
  const requesterHub = {};
  const a = await openTestPage(browser, { user: unique('smith-'), body, init, routes: handoverHub(holderHub) });
  await synced(a.page);
  const b = await openTestPage(browser, { user: unique('jones-'), role: 'nurse', body, init, routes: handoverHub(requesterHub) });
  await synced(b.page);
  const who = async (p) => p.evaluate(() => ({ userId: collab.provider.session.userId, username: collab.provider.session.username }));
  return { resourceId, a, b, holderHub, requesterHub, holder: await who(a.page), requester: await who(b.page) };
}

test('request -> prompt -> hand over: the requester becomes the editor and the former holder is read-only', async () => {
  const { resourceId, a, b, holderHub, requesterHub, holder, requester } = await twoClinicians();
  try {
    requesterHub.request = (arg) => ({ lockRequestId: 'lr-1', requester, holder, reason: arg.reason ?? null, autoPassAt: new Date(Date.now() + 60000).toISOString() });
    // B sees "Request edit" on the locked field's badge; the chunk came beside the bundle.
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `!el.hidden && el.textContent === 'Request edit'`);
    assert.equal(await b.page.evaluate(() => typeof window.__collabSdkChunks.handover.attach), 'function');
    await shadow(b.page, (root) => root.querySelector('.badge[data-for="id-notes"] .req').click());
    // The form takes focus (B asked for it): a reason, Enter sends.
    await waitShadow(b.page, '.dlg[data-kind="request"][role="alertdialog"] input');
    assert.equal(await shadow(b.page, (root) => root.activeElement?.tagName), 'INPUT');
    await b.page.keyboard.type('Adding the allergy found on admission');
    await b.page.keyboard.press('Enter');
    await b.page.waitForFunction(() => collab.handover.myLockRequest?.lockRequestId === 'lr-1');
    assert.deepEqual(requesterHub.calls, [{ target: 'lock:request', arg: { resourceId, reason: 'Adding the allergy found on admission', requestId: requesterHub.calls[0].arg.requestId } }]);
    await waitShadow(b.page, '.lock.requested', `el.textContent.includes('waiting for an answer')`);
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `el.disabled && el.textContent === 'Requested'`);

    // The holder is typing: the prompt appears, is announced, and does not take the focus.
    await a.page.locator('#notes').click();
    await a.page.keyboard.type('Seen on ward round.');
    holderHub.send('lock:requested', broadcast('lock:requested', resourceId, requesterHub.request({ reason: 'Adding the allergy found on admission' })));
    await waitShadow(a.page, '.dlg[data-kind="handover"][role="alertdialog"]', `el.textContent.includes(${JSON.stringify(requester.username)}) && el.textContent.includes('Adding the allergy')`);
    await waitShadow(a.page, '.announce', `el.textContent.includes('asks for the editing lock')`);
    assert.equal(await a.page.evaluate(() => document.activeElement.id), 'notes', 'the prompt took the focus from the field being typed in');
    await waitShadow(a.page, '.lock.asked', `el.textContent.includes(${JSON.stringify(requester.username)})`);
    const labels = await shadow(a.page, (root) => {
      const dlg = root.querySelector('.dlg');
      return { labelled: root.getElementById(dlg.getAttribute('aria-labelledby'))?.textContent, buttons: Array.from(dlg.querySelectorAll('button'), (b) => b.textContent) };
    });
    assert.deepEqual(labels, { labelled: 'Edit request', buttons: ['Later', 'Decline', 'Hand over'] });
    // By keyboard: focus "Hand over", Enter.
    await shadow(a.page, (root) => root.querySelector('.dlg button.primary').focus());
    await a.page.keyboard.press('Enter');
    await a.page.waitForFunction(() => !document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.dlg'));
    assert.deepEqual(holderHub.calls.map((c) => [c.target, c.arg.lockRequestId, c.arg.accept]), [['lock:request-answer', 'lr-1', true]]);

    // The server hands over (a new fencing token) and tells both.
    const old = await a.page.evaluate(() => collab.provider.lock);
    const lock = { ...old, lockId: 'lk-2', holder: requester, fencingToken: old.fencingToken + 1 };
    const handedOver = broadcast('lock:handed-over', resourceId, { lockRequestId: 'lr-1', from: holder, to: requester, lock, previousLockId: old.lockId });
    holderHub.send('lock:handed-over', handedOver);
    requesterHub.send('lock:handed-over', handedOver);
    await b.page.waitForFunction(() => collab.provider.mode === 'editor' && !document.querySelector('#notes').readOnly);
    assert.equal(await b.page.locator('#notes').getAttribute('data-collab-state'), 'own-lock');
    await waitShadow(b.page, '.toast', `el.textContent.includes('The lock is yours')`);
    assert.equal(await b.page.evaluate(() => collab.handover.myLockRequest), null);
    await a.page.waitForFunction(() => collab.provider.mode === 'viewer' && document.querySelector('#notes').readOnly);
    assert.equal(await a.page.locator('#notes').getAttribute('data-collab-state'), 'locked');
    await waitShadow(a.page, '.toast', `el.textContent.includes('You handed the editing lock to ${requester.username}')`);
    await waitShadow(a.page, '.badge[data-for="id-notes"]', `el.textContent.includes(${JSON.stringify(requester.username)})`);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('decline, and "Later" (Escape) which answers nothing; a role that may not lock is offered no request', async () => {
  const { resourceId, a, b, holderHub, requesterHub, holder, requester } = await twoClinicians();
  const student = await openTestPage(browser, { user: unique('student-'), role: 'viewer', body, init: JSON.stringify({ resourceId, offlineCache: false, lockRequests: true }) });
  try {
    requesterHub.request = () => ({ lockRequestId: 'lr-9', requester, holder, reason: null, autoPassAt: null });
    await b.page.evaluate(() => collab.requestEdit(''));
    await b.page.waitForFunction(() => collab.handover.myLockRequest?.lockRequestId === 'lr-9');
    assert.equal(requesterHub.calls[0].arg.reason, undefined, 'an empty reason is left out');
    holderHub.send('lock:requested', broadcast('lock:requested', resourceId, requesterHub.request()));
    await waitShadow(a.page, '.dlg[data-kind="handover"]');
    // Escape = Later: the prompt goes, nothing is answered (the server's timeout decides).
    await shadow(a.page, (root) => root.querySelector('.dlg button').focus());
    await a.page.keyboard.press('Escape');
    await a.page.waitForFunction(() => !document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector('.dlg'));
    assert.deepEqual(holderHub.calls, []);
    // A second request: Decline.
    holderHub.send('lock:requested', broadcast('lock:requested', resourceId, { ...requesterHub.request(), lockRequestId: 'lr-10' }));
    await waitShadow(a.page, '.dlg[data-kind="handover"][data-request="lr-10"]');
    await shadow(a.page, (root) => Array.from(root.querySelectorAll('.dlg button')).find((x) => x.textContent === 'Decline').click());
    await a.page.waitForFunction(() => collab.handover.lockRequests.every((q) => q.lockRequestId !== 'lr-10'));
    assert.deepEqual(holderHub.calls.map((c) => [c.target, c.arg.lockRequestId, c.arg.accept]), [['lock:request-answer', 'lr-10', false]]);
    requesterHub.send('lock:request-declined', broadcast('lock:request-declined', resourceId, { lockRequestId: 'lr-9', requester, by: holder }));
    await waitShadow(b.page, '.toast', `el.textContent.includes('declined your edit request')`);
    await waitShadow(b.page, '.lock.other', `el.textContent.includes('Locked by')`);
    await waitShadow(b.page, '.badge[data-for="id-notes"] .req', `!el.disabled && el.textContent === 'Request edit'`);
    assert.equal(await b.page.evaluate(() => collab.provider.mode), 'viewer');
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
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
