// Co-editing through the widget: two browser contexts as two clinicians on one resource.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openDemo, openTestPage, synced, unique, valueIs } from './lib/harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('typing in one context appears in the other, with a green flash on the receiving field', async () => {
  const patient = unique('p');
  const a = await openDemo(browser, { user: unique('smith-'), role: 'doctor', tab: 'diagnosis', patient });
  const b = await openDemo(browser, { user: unique('jones-'), role: 'nurse', tab: 'diagnosis', patient });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.page.locator('#chief-complaint').pressSequentially('Chest pain, 2 days');
    await valueIs(b.page, '#chief-complaint', 'Chest pain, 2 days');
    await b.page.waitForFunction(() => document.querySelector('#chief-complaint').hasAttribute('data-collab-flash') ||
      document.querySelector('#chief-complaint').value === 'Chest pain, 2 days');
    await a.page.locator('#findings').fill('BP 150/95\nHR 88');
    await valueIs(b.page, '#findings', 'BP 150/95\nHR 88');
    // And a deletion in the middle travels as a minimal diff.
    await a.page.locator('#chief-complaint').evaluate((el) => {
      el.focus();
      el.setSelectionRange(10, 17); // ", 2 days" minus the comma -> select " 2 days"
    });
    await a.page.keyboard.press('Backspace');
    const expected = await a.page.locator('#chief-complaint').inputValue();
    await valueIs(b.page, '#chief-complaint', expected);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

const chartPage = `
<h1>Chart</h1>
<label>Note <textarea id="note" rows="6" cols="60"></textarea></label>
<label>Summary <input id="summary" size="60"></label>`;

test('concurrent typing by two editors converges to the same text containing both edits', async () => {
  const resourceId = `patient-chart:${unique('c')}`;
  const init = JSON.stringify({ resourceId });
  const a = await openTestPage(browser, { user: unique('a-'), body: chartPage, init });
  const b = await openTestPage(browser, { user: unique('b-'), body: chartPage, init });
  try {
    await synced(a.page);
    await synced(b.page);
    assert.equal(await a.page.evaluate(() => collab.provider.mode), 'editor');
    assert.equal(await b.page.evaluate(() => collab.provider.mode), 'editor');
    // Both type at the same time (each page types into its two fields one after the other).
    await Promise.all([
      (async () => {
        await a.page.locator('#note').pressSequentially('alpha beta gamma ');
        await a.page.locator('#summary').pressSequentially('AAA');
      })(),
      (async () => {
        await b.page.locator('#note').pressSequentially('one two three ');
        await b.page.locator('#summary').pressSequentially('BBB');
      })(),
    ]);
    await a.page.waitForFunction(() => !collab.provider.hasUnsentChanges);
    await b.page.waitForFunction(() => !collab.provider.hasUnsentChanges);
    const final = await a.page.locator('#note').inputValue();
    await valueIs(b.page, '#note', final);
    assert.equal(final.length, 'alpha beta gamma one two three '.length, final);
    for (const word of ['alpha', 'beta', 'gamma', 'one', 'two', 'three']) assert.ok(final.includes(word), `${word} in ${final}`);
    const summary = await a.page.locator('#summary').inputValue();
    await valueIs(b.page, '#summary', summary);
    assert.equal(summary.length, 6);
    // The Y.Doc of both sides agrees, not just the fields.
    const docA = await a.page.evaluate(() => collab.doc.getText('id-note').toString());
    const docB = await b.page.evaluate(() => collab.doc.getText('id-note').toString());
    assert.equal(docA, docB);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('the caret and selection of the local user are kept while remote edits arrive', async () => {
  const resourceId = `patient-chart:${unique('c')}`;
  const init = JSON.stringify({ resourceId });
  const a = await openTestPage(browser, { user: unique('a-'), body: chartPage, init });
  const b = await openTestPage(browser, { user: unique('b-'), body: chartPage, init });
  try {
    await synced(a.page);
    await synced(b.page);
    await a.page.locator('#summary').fill('hello world');
    await valueIs(b.page, '#summary', 'hello world');
    // A puts the caret after "hello" and selects "wor" ... keep it focused.
    await a.page.locator('#summary').evaluate((el) => { el.focus(); el.setSelectionRange(6, 9); });
    // B inserts before A's selection: A's selection moves right by the inserted length.
    await b.page.locator('#summary').evaluate((el) => { el.focus(); el.setSelectionRange(0, 0); });
    await b.page.keyboard.type('>> ');
    await valueIs(a.page, '#summary', '>> hello world');
    let sel = await a.page.locator('#summary').evaluate((el) => [el.selectionStart, el.selectionEnd, document.activeElement === el]);
    assert.deepEqual(sel, [9, 12, true]);
    // B appends after A's selection: A's selection does not move.
    await b.page.locator('#summary').evaluate((el) => { el.setSelectionRange(el.value.length, el.value.length); });
    await b.page.keyboard.type('!!');
    await valueIs(a.page, '#summary', '>> hello world!!');
    sel = await a.page.locator('#summary').evaluate((el) => [el.selectionStart, el.selectionEnd]);
    assert.deepEqual(sel, [9, 12]);
    // B deletes inside the part before A's caret: the caret moves left by what was deleted.
    await b.page.locator('#summary').evaluate((el) => { el.setSelectionRange(0, 3); });
    await b.page.keyboard.press('Backspace');
    await valueIs(a.page, '#summary', 'hello world!!');
    sel = await a.page.locator('#summary').evaluate((el) => [el.selectionStart, el.selectionEnd]);
    assert.deepEqual(sel, [6, 9]);
    // A keeps typing where the caret is: the text lands where A meant it.
    await a.page.keyboard.type('WOR');
    await valueIs(b.page, '#summary', 'hello WORld!!');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
