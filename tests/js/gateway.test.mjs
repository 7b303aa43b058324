// The gateway driven by the real @microsoft/signalr npm client (negotiate + WebSockets, JSON protocol).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { Client, baseUrl, devToken, unique } from './lib/collab.mjs';

test('a valid dev token connects and receives connected with a session id', async () => {
  const user = unique('js-');
  const client = await Client.connect(user, 'Dr. Node', 'doctor');
  try {
    assert.equal(client.connected.userId, user);
    assert.equal(client.connected.username, 'Dr. Node');
    assert.ok(client.connected.sessionId.length > 10);
    const ack = await client.invoke('heartbeat');
    assert.equal(ack.success, true);
    assert.ok(Date.parse(ack.data.sessionExpiresAt) > Date.parse(ack.data.serverTime));
  } finally {
    await client.stop();
  }
});

test('a token signed by someone else is refused before the hub runs', async () => {
  const token = await devToken(unique('js-'));
  const [h, p] = token.split('.');
  const forged = `${h}.${p}.${Buffer.from('not-a-signature').toString('base64url')}`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${baseUrl}/hubs/collab`, { accessTokenFactory: () => forged })
    .configureLogging(signalR.LogLevel.None).build();
  await assert.rejects(connection.start(), (err) => err.statusCode === 401 || /401/.test(String(err)));
});

test('skipNegotiation over WebSockets works the way browsers use it', async () => {
  const user = unique('js-');
  const client = await Client.connect(user, user, 'doctor', {
    http: { skipNegotiation: true, transport: signalR.HttpTransportType.WebSockets },
  });
  try {
    const r = await client.join(`document:${unique('')}`);
    assert.equal(r.success, true);
  } finally {
    await client.stop();
  }
});

test('join, duplicate join, leave and leave-without-join answer with their codes', async () => {
  const client = await Client.connect(unique('js-'));
  const doc = `document:${unique('')}`;
  try {
    const joined = await client.join(doc, 'editor');
    assert.equal(joined.success, true);
    assert.equal(joined.data.mode, 'editor');
    assert.equal(joined.data.revision, 0);
    assert.equal((await client.join(doc)).error.code, 'ALREADY_JOINED');
    assert.equal((await client.leave(doc)).success, true);
    assert.equal((await client.leave(doc)).error.code, 'NOT_JOINED');
    const bad = await client.join('not a resource id');
    assert.equal(bad.success, false);
    assert.equal(bad.error.code, 'VALIDATION_FAILED');
  } finally {
    await client.stop();
  }
});

test('three users in three tabs of one document all receive resource:all_users with total 3, and a disconnect updates everyone', async () => {
  const root = `document:${unique('999-')}`;
  const tabs = ['diagnosis', 'medication', 'notes'];
  const clients = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await Client.connect(unique(`js${i}-`), `User ${i}`, 'doctor');
      clients.push(c);
      assert.equal((await c.join(`${root}/tab:${tabs[i]}`)).success, true);
    }
    for (const c of clients) {
      const all = await c.waitFor('resource:all_users', (b) => b.payload.totalCount === 3);
      assert.equal(all.payload.parentResourceId, root);
      const groups = Object.fromEntries(all.payload.subResources.map((g) => [g.subResourceId, g.users.map((u) => u.userId)]));
      tabs.forEach((t, i) => assert.deepEqual(groups[`${root}/tab:${t}`], [clients[i].connected.userId]));
    }
    await clients[2].stop();
    for (const c of clients.slice(0, 2)) {
      const all = await c.waitFor('resource:all_users', (b) => b.payload.totalCount === 2);
      const ids = all.payload.subResources.flatMap((g) => g.users.map((u) => u.userId));
      assert.ok(!ids.includes(clients[2].connected.userId));
    }
  } finally {
    for (const c of clients) await c.stop();
  }
});

test('a viewer role asking for editor joins as viewer and is told why', async () => {
  const client = await Client.connect(unique('js-'), 'Visitor', 'viewer');
  try {
    const r = await client.join(`document:${unique('')}`, 'editor');
    assert.equal(r.success, true);
    assert.equal(r.data.mode, 'viewer');
    assert.match(r.data.modeReason, /viewer/);
  } finally {
    await client.stop();
  }
});

test('HTTP probes and capabilities answer', async () => {
  const health = await fetch(`${baseUrl}/health`);
  assert.equal(health.status, 200);
  const ready = await (await fetch(`${baseUrl}/ready`)).json();
  assert.equal(ready.status, 'ready');
  assert.ok('store' in ready.checks && 'audit' in ready.checks);
  const caps = await (await fetch(`${baseUrl}/api/capabilities`)).json();
  assert.equal(caps.hub.path, '/hubs/collab');
  assert.ok(caps.resourceTypes.some((t) => t.type === 'patient-chart' && t.maxConcurrentEditors === 3));
  const missing = await fetch(`${baseUrl}/api/nothing-here`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, 'NOT_FOUND');
});

test('a requestId holding a lone UTF-16 surrogate is VALIDATION_FAILED and the connection survives (issue 12 item 4)', async () => {
  const client = await Client.connect(unique('js-'));
  try {
    // JSON.stringify escapes the lone surrogate as \ud800: valid JSON, invalid UTF-16 for the server.
    for (const requestId of ['\ud800', 'abc\udfff', '\udc00\ud800']) {
      const reply = await client.connection.invoke('resource:join', { resourceId: unique('document:'), mode: 'viewer', requestId });
      assert.equal(reply.success, false);
      assert.equal(reply.error.code, 'VALIDATION_FAILED');
      assert.equal(reply.error.details.field, 'requestId');
    }
    const reply = await client.connection.invoke('resource:join', { resourceId: unique('document:'), mode: 'viewer', requestId: 'x', extra: '\ud800' });
    assert.equal(reply.success, true); // an unknown field is ignored, whatever it holds
    assert.equal((await client.invoke('heartbeat')).success, true);
  } finally {
    await client.stop();
  }
});
