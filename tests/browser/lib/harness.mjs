// Browser-test harness: Debian's Chromium driven by playwright-core against a started node (COLLAB_URL).
// Never downloads a browser. Pages are either the node's /demo or small test pages served through
// Playwright routes on the node's own origin (same origin: IndexedDB, WebSockets and the bundle behave
// as on a real integrator's page).
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const baseUrl = (process.env.COLLAB_URL ?? 'http://127.0.0.1:5000').replace(/\/+$/, '');
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const artifacts = join(repoRoot, 'artifacts');

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // Test pages are served by Playwright routes, which Chromium counts as "public" origins; without this
  // their WebSocket to the node on 127.0.0.1 is blocked as a local-network request.
  '--disable-features=LocalNetworkAccessChecks',
];

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

let n = 0;
export function unique(prefix = '') {
  return `${prefix}${Date.now().toString(36)}${(n++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function devToken(userId, username = userId, role = 'doctor') {
  const r = await fetch(`${baseUrl}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, username, role }),
  });
  if (!r.ok) throw new Error(`dev token: HTTP ${r.status}`);
  return (await r.json()).token;
}

/** Opens /demo as a user in a fresh browser context (a separate "browser window" with its own storage). */
export async function openDemo(browser, { user, role, tab = 'diagnosis', patient, viewport } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1100, height: 900 } });
  const page = await context.newPage();
  const q = new URLSearchParams({ user, role, tab, patient });
  await page.goto(`${baseUrl}/demo?${q}`);
  return { context, page };
}

export const distDir = join(repoRoot, 'src', 'Widget', 'dist');
/** collab-sdk.js and its chunks collab-sdk.<name>.js (any ?v=), as built. */
const WIDGET_FILE = /\/(collab-sdk(?:\.[a-z0-9-]+)?\.js)(?:\?.*)?$/;
export const widgetFile = (name) => readFileSync(join(distDir, name));

/**
 * Opens a test page served at <node>/__test/<name> by a route, with the bundle and its chunks also served by a route
 * (so the page and the widget load even while the context is offline). `body` is the page's markup;
 * `init` the object literal given to CollabSDK.init besides gatewayUrl and token (a string of JS); `routes(context)`
 * may add routes of its own before the page loads (they take precedence).
 */
export async function openTestPage(browser, { user, role = 'doctor', name = unique('p'), body, init = '{}', head = '', scripts = '', routes }) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const token = await devToken(user, user, role);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title>${head}</head><body>${body}
<script src="/collab-sdk.js"></script>
${scripts}
<script>window.collab = CollabSDK.init(Object.assign({ gatewayUrl: location.origin, token: ${JSON.stringify(token)} }, ${init}))</script>
</body></html>`;
  await context.route(`${baseUrl}/__test/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  await context.route((url) => url.href.startsWith(baseUrl) && WIDGET_FILE.test(url.pathname + url.search), (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: widgetFile(WIDGET_FILE.exec(new URL(route.request().url()).pathname)[1]) }));
  if (routes) await routes(context); // registered last, so tried first
  const page = await context.newPage();
  await page.goto(`${baseUrl}/__test/${name}`);
  return { context, page, token };
}

/** Waits until the page's first widget instance is connected and synced. */
export function synced(page, timeout = 15000) {
  return page.waitForFunction(() => window.CollabSDK?.instances[0]?.status === 'connected' && !window.CollabSDK.instances[0].provider.hasUnsentChanges, null, { timeout });
}

export function status(page) {
  return page.evaluate(() => window.CollabSDK.instances[0]?.status);
}

/** Waits until a field (CSS selector) has exactly this value. */
export function valueIs(page, selector, value, timeout = 10000) {
  return page.waitForFunction(([s, v]) => document.querySelector(s)?.value === v, [selector, value], { timeout });
}

export function screenshotsDir() {
  const dir = join(artifacts, 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Text of an element inside the widget's shadow root. */
export function shadowText(page, selector) {
  return page.evaluate((s) => document.querySelector('[data-collab-sdk-root]')?.shadowRoot?.querySelector(s)?.textContent ?? null, selector);
}

export function waitShadow(page, selector, predicate = '', timeout = 10000) {
  return page.waitForFunction(
    ([s, p]) => {
      const el = document.querySelector('[data-collab-sdk-root]')?.shadowRoot?.querySelector(s);
      if (!el) return false;
      return p ? new Function('el', `return (${p})`)(el) : true;
    },
    [selector, predicate],
    { timeout },
  );
}
