// The y-websocket-shaped provider runs a real Y.js editor binding (CodeMirror 6 + y-codemirror.next).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { join } from 'node:path';
import { launch, openTestPage, repoRoot, unique } from './lib/harness.mjs';

let browser;
let editorScript;
before(async () => {
  browser = await launch();
  const out = await build({
    entryPoints: [join(repoRoot, 'tests', 'browser', 'fixtures', 'codemirror-page.mjs')],
    bundle: true,
    format: 'iife',
    write: false,
    platform: 'browser',
    alias: { yjs: join(repoRoot, 'tests', 'browser', 'fixtures', 'yjs-from-sdk.cjs') },
    logLevel: 'error',
  });
  editorScript = out.outputFiles[0].text;
});
after(async () => { await browser?.close(); });

async function openEditor(resourceId, user, color) {
  const p = await openTestPage(browser, {
    user,
    body: '<h1>Report</h1><div id="editor" style="border:1px solid #ccc;min-height:80px"></div>',
    // The widget itself stays out of the way here (no auto-discovery, no panel): only the provider is used.
    init: JSON.stringify({ autoDiscovery: false, panel: false, offlineCache: false, resourceId: `${resourceId}-widget` }),
    scripts: `<script>${editorScript.replace(/<\/script/g, '<\\/script')}</script>`,
  });
  await p.page.evaluate(([resourceId, token, user, color]) => window.startEditor({ gatewayUrl: location.origin, token, resourceId, user, color }), [resourceId, p.token, user, color]);
  await p.page.waitForFunction(() => window.editor.provider.synced);
  return p;
}

test('CodeMirror 6 with y-codemirror.next co-edits through CollabProvider (sync events, remote carets, disconnect/connect)', async () => {
  const resourceId = `radiology-report:${unique('r')}/findings:main`;
  const a = await openEditor(resourceId, unique('rad-'), '#2563eb');
  const b = await openEditor(resourceId, unique('res-'), '#db2777');
  try {
    // y-websocket surface.
    const shape = await a.page.evaluate(() => {
      const p = window.editor.provider;
      return {
        doc: p.doc === window.editor.doc,
        awareness: typeof p.awareness.getStates,
        methods: ['on', 'off', 'connect', 'disconnect', 'destroy'].every((m) => typeof p[m] === 'function'),
        synced: p.synced,
        wsconnected: p.wsconnected,
        sync: window.editor.syncEvents,
        status: window.editor.statusEvents,
        roomname: p.roomname,
      };
    });
    assert.deepEqual({ ...shape, roomname: undefined }, { doc: true, awareness: 'function', methods: true, synced: true, wsconnected: true, sync: [true], status: ['connected'], roomname: undefined });
    assert.equal(shape.roomname, resourceId);
    // radiology-report/findings allows one editor: A holds the lock, B follows as viewer.
    assert.equal(await a.page.evaluate(() => window.editor.provider.mode), 'editor');
    assert.equal(await b.page.evaluate(() => window.editor.provider.mode), 'viewer');

    await a.page.locator('.cm-content').click();
    await a.page.keyboard.type('FINDINGS: No acute abnormality.');
    await b.page.waitForFunction(() => window.editor.view.state.doc.toString() === 'FINDINGS: No acute abnormality.');
    // A's caret is drawn in B's editor (awareness through the hub).
    await b.page.waitForSelector('.cm-ySelectionCaret', { timeout: 10000 });

    // disconnect() releases the lock; B takes it over (autoAcquire) and edits; A reconnects and catches up.
    await a.page.evaluate(() => window.editor.provider.disconnect());
    await b.page.waitForFunction(() => window.editor.provider.mode === 'editor', null, { timeout: 10000 });
    await b.page.locator('.cm-content').click();
    await b.page.keyboard.press('End');
    await b.page.keyboard.type(' Reviewed.');
    await b.page.waitForFunction(() => !window.editor.provider.hasUnsentChanges);
    await a.page.evaluate(() => window.editor.provider.connect());
    await a.page.waitForFunction(() => window.editor.provider.synced && window.editor.view.state.doc.toString() === 'FINDINGS: No acute abnormality. Reviewed.', null, { timeout: 10000 });
    assert.equal(await a.page.evaluate(() => window.editor.provider.mode), 'viewer');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
