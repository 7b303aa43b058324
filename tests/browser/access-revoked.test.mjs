// A reload of resources.yml that takes a role's canView away (POST /api/admin/resource-types/reload): a page of that
// role, open on the resource, is told so at once (an error toast), its fields turn read-only, its status reads
// "No access" instead of "Reconnecting…", and it does not try to join again; a page of another role stays connected
// and sees the removed user go. This file starts a node of its own on a copy of config/resources.yml it rewrites.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from './lib/node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'collab-access-'));
const resources = join(dir, 'resources.yml');
copyFileSync(join(root, 'config', 'resources.yml'), resources);
const node = await startNode('access-revoked', [`--Collab:ResourcesFile=${resources}`]);
const { launch, openTestPage, synced, unique, baseUrl, devToken } = await import('./lib/harness.mjs');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await node.stop(); rmSync(dir, { recursive: true, force: true }); });

const body = '<main><label>Notes <textarea id="notes"></textarea></label></main>';

test("a reload that takes the nurse's canView away tells the nurse's page, makes it read-only and keeps it from rejoining; the surgeon's page carries on", async () => {
  const resourceId = `document:${unique('p')}/tab:notes`;
  const init = JSON.stringify({ resourceId, offlineCache: false });
  const nurse = await openTestPage(browser, { user: unique('nurse-'), role: 'nurse', body, init });
  const surgeon = await openTestPage(browser, { user: unique('dr-'), role: 'surgeon', body, init });
  try {
    await Promise.all([synced(nurse.page), synced(surgeon.page)]);
    await nurse.page.evaluate(() => {
      window.__errors = [];
      window.__joins = 0;
      collab.on('error', (e) => window.__errors.push(e));
      collab.provider.on('status', (s) => { if (s.status === 'connecting') window.__joins++; });
    });
    await surgeon.page.waitForFunction(() => collab.provider.users.length === 2);

    // The nurse loses canView on documents; the node reloads and re-checks every member.
    const yml = readFileSync(resources, 'utf8');
    const nurseBlock = '      nurse:\n        canEdit: true\n        canLock: true\n        canForceRelease: false\n';
    assert.ok(yml.includes(nurseBlock), 'the document type has the nurse block this test edits');
    writeFileSync(resources, yml.replace(nurseBlock, nurseBlock + '        canView: false\n'));
    const admin = await devToken(unique('admin-'), 'Admin', 'admin');
    const reload = await fetch(`${baseUrl}/api/admin/resource-types/reload`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(reload.status, 200, await reload.clone().text());
    assert.equal((await reload.json()).status, 'reloaded');

    await nurse.page.waitForFunction(() => window.__errors.some((e) => e.code === 'PERMISSION_DENIED'));
    await nurse.page.waitForFunction(() => [...document.querySelector('[data-collab-sdk-root]').shadowRoot.querySelectorAll('.toast.error')]
      .some((t) => t.textContent.includes('Your access to this record was removed')));
    await nurse.page.waitForFunction(() => collab.status === 'denied');
    assert.equal(await nurse.page.$eval('#notes', (el) => el.readOnly), true);
    const line = await nurse.page.evaluate(() => document.querySelector('[data-collab-sdk-root]').shadowRoot.textContent);
    assert.match(line, /No access/);
    assert.doesNotMatch(line, /Reconnecting/);
    assert.equal(await nurse.page.evaluate(() => collab.provider.shouldConnect), false);
    assert.equal(await nurse.page.evaluate(() => window.__joins), 0, 'the page tried to join again');

    // The surgeon is still connected and sees only themself now.
    await surgeon.page.waitForFunction(() => collab.provider.users.length === 1);
    assert.equal(await surgeon.page.evaluate(() => collab.status), 'connected');
  } finally {
    await nurse.context.close();
    await surgeon.context.close();
  }
});
