// Issue 12 item 11: awareness is what a peer says about itself, so the widget never believes it for identity.
// A second page (the widget, as any member could run it) claims another name and role and a CSS colour that
// would make every viewer's browser fetch a URL; the first page shows that member with the name and role of the
// server's presence (from the token) and a colour of its own, and nothing is fetched. A #rrggbb colour is used.
// Claiming another present user's id does not help either: the server names the sender's session in every relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { launch, openTestPage, synced, unique } from './lib/harness.mjs';

let browser;
let tracker;
let trackerHits = 0;
before(async () => {
  browser = await launch();
  // A real listener on the URL the colour names: if the browser fetched it, it would be counted here.
  tracker = createServer((req, res) => { trackerHits++; res.end(); });
  await new Promise((resolve) => tracker.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => tracker?.close(resolve));
});

const body = '<label>Notes <textarea id="notes"></textarea></label><label>Plan <input id="plan"></label>';

/** The widget's own colour for a user (util.ts colorFor), as the computed rgb(). */
function colorFor(id) {
  const palette = ['#2563eb', '#9333ea', '#db2777', '#0d9488', '#ea580c', '#4f46e5', '#0891b2', '#65a30d'];
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return rgb(palette[h % palette.length]);
}
const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

/** The avatar of a user on a field, as the first page renders it (null until it is there). */
const avatar = (page, field, userId) => page.evaluate(([field, userId]) => {
  const root = document.querySelector('[data-collab-sdk-root]').shadowRoot;
  const a = root.querySelector(`.avatars[data-for="${field}"] .avatar[data-user="${userId}"]`);
  if (!a) return null;
  const style = getComputedStyle(a);
  return { tip: a.querySelector('.tip').textContent, label: a.getAttribute('aria-label'), text: a.firstChild.textContent,
    inline: a.getAttribute('style'), background: style.backgroundColor, image: style.backgroundImage };
}, [field, userId]);

const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

test('a member claiming "Dr. Sarah Smith (admin)" and a url() colour is shown with the server\'s name and role, and nothing is fetched', async () => {
  const resourceId = `patient-chart:${unique('aw')}`;
  const init = JSON.stringify({ resourceId, offlineCache: false });
  const victim = await openTestPage(browser, { user: unique('dr-real-'), body, init });
  const tracked = [];
  victim.context.on('request', (r) => { if (r.url().includes('/track')) tracked.push(r.url()); });
  const mallory = unique('mallory-');
  const attacker = await openTestPage(browser, { user: mallory, role: 'nurse', body, init });
  const smith = unique('dr-smith-');
  const colleague = await openTestPage(browser, { user: smith, body, init });
  try {
    await synced(victim.page);
    await synced(attacker.page);
    await synced(colleague.page);
    const track = `url(http://127.0.0.1:${tracker.address().port}/track)`;
    // The attacker's page rewrites its own awareness state, then focuses a field (which sends it).
    await attacker.page.evaluate((color) => {
      collab.awareness.setLocalStateField('user', { id: collab.provider.session.userId, name: 'Dr. Sarah Smith', role: 'admin', color });
    }, track);
    await attacker.page.locator('#notes').focus();
    await attacker.page.waitForFunction(() => collab.awareness.getLocalState().focus === 'id-notes');

    await victim.page.waitForFunction(([id]) => !!document.querySelector('[data-collab-sdk-root]').shadowRoot
      .querySelector(`.avatars[data-for="id-notes"] .avatar[data-user="${id}"]`), [mallory]);
    // The claimed state did arrive as claimed: what the widget shows is its own choice.
    const claimed = await victim.page.evaluate(() => Array.from(collab.awareness.getStates().values()).map((s) => s.user).find((u) => u?.name === 'Dr. Sarah Smith'));
    assert.equal(claimed?.role, 'admin');
    assert.equal(claimed?.color, track);
    await frames(victim.page);
    assert.deepEqual(tracked, [], 'no request reached /track');

    const shown = await avatar(victim.page, 'id-notes', mallory);
    assert.equal(shown.tip, `${mallory} (nurse)`, 'name and role from the server\'s presence (the token)');
    assert.equal(shown.label, `${mallory} (nurse) is here`);
    assert.equal(shown.text, mallory.slice(0, 2).toUpperCase());
    assert.equal(shown.background, colorFor(mallory), 'the widget\'s colour, not the claimed one');
    assert.equal(shown.image, 'none');
    assert.ok(!/url|track/i.test(shown.inline), shown.inline);
    // The panel's member list: the same, from presence.
    const row = await victim.page.evaluate((id) => {
      const li = document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector(`.users li[data-user="${id}"]`);
      return li && { name: li.querySelector('.uname').textContent, meta: li.querySelector('.umeta').textContent, background: getComputedStyle(li.querySelector('.avatar')).backgroundColor };
    }, mallory);
    assert.deepEqual(row, { name: mallory, meta: 'nurse', background: colorFor(mallory) });
    // Nowhere on the page, shadow root included.
    const text = await victim.page.evaluate(() => document.body.innerText + document.querySelector('[data-collab-sdk-root]').shadowRoot.textContent);
    assert.ok(!text.includes('Sarah Smith') && !/\badmin\b/.test(text), text);
    assert.deepEqual(tracked, [], 'no request reached /track');
    assert.equal(trackerHits, 0);

    // A #rrggbb colour is a colour: that one is used (still with the server's name).
    await attacker.page.evaluate(() => collab.awareness.setLocalStateField('user', { id: collab.provider.session.userId, name: 'Dr. Sarah Smith', role: 'admin', color: '#123456' }));
    await victim.page.waitForFunction(([id]) => {
      const a = document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelector(`.avatars[data-for="id-notes"] .avatar[data-user="${id}"]`);
      return a && getComputedStyle(a).backgroundColor === 'rgb(18, 52, 86)';
    }, [mallory]);
    assert.equal((await avatar(victim.page, 'id-notes', mallory)).tip, `${mallory} (nurse)`);

    // Claiming the id of a colleague who is present, or of nobody present: still shown as the sender, on the new field.
    for (const [claimedId, field] of [[smith, 'plan'], ['dr-sarah-smith', 'notes']]) {
      await attacker.page.evaluate((id) => collab.awareness.setLocalStateField('user', { id, name: 'Dr. Sarah Smith', role: 'admin', color: '#123456' }), claimedId);
      await attacker.page.locator(`#${field}`).focus();
      await victim.page.waitForFunction(([field, id]) => !!document.querySelector('[data-collab-sdk-root]').shadowRoot
        .querySelector(`.avatars[data-for="id-${field}"] .avatar[data-user="${id}"]`), [field, mallory]);
      assert.equal((await avatar(victim.page, `id-${field}`, mallory)).tip, `${mallory} (nurse)`, `claimed ${claimedId}`);
      assert.equal(await avatar(victim.page, `id-${field}`, smith), null, `${smith} is not focused there`);
    }
    await frames(victim.page);
    assert.deepEqual(tracked, []);
    assert.equal(trackerHits, 0);
  } finally {
    await victim.context.close();
    await attacker.context.close();
    await colleague.context.close();
  }
});
