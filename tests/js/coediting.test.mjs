// Co-editing end to end: real yjs documents in Node, real @microsoft/signalr clients, a started node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, baseUrl, devToken, unique } from './lib/collab.mjs';
import { DocClient, Y, b64 } from './lib/ydoc-client.mjs';

// patient-chart admits 3 editors (config/resources.yml); ward-board admits 20.
const chart = () => `patient-chart:${unique('')}`;

async function until(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10)); // polling local CRDT state that has no "converged" event
  }
}

async function serverContent(resourceId) {
  const token = await devToken('auditor-js', 'Auditor', 'auditor');
  const r = await fetch(`${baseUrl}/api/resources/${resourceId}/content`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return r.json();
}

test('two clients typing concurrently into one Y.Text converge', async () => {
  const id = chart();
  const a = await DocClient.open(unique('a-'), id);
  const b = await DocClient.open(unique('b-'), id);
  try {
    for (let i = 0; i < 20; i++) {
      a.text().insert(0, 'a');
      b.text().insert(b.text().length, 'b');
    }
    await Promise.all([a.flush(), b.flush()]);
    await until(() => a.text().toString() === b.text().toString() && a.text().length === 40, 'convergence');
    assert.equal(a.text().toString().replace(/b/g, '').length, 20);
    const server = await serverContent(id);
    assert.equal(server.content.notes, a.text().toString());
  } finally {
    await a.close(); await b.close();
  }
});

test('"Initial text - modified by A - modified by B" merges deterministically', async () => {
  const id = chart();
  const a = await DocClient.open(unique('a-'), id);
  a.text().insert(0, 'Initial text');
  await a.flush();
  const b = await DocClient.open(unique('b-'), id);
  try {
    assert.equal(b.text().toString(), 'Initial text');
    // Both edit the same base at the same time: A appends, B appends.
    a.online = false; b.online = false;
    a.text().insert(a.text().length, ' - modified by A');
    b.text().insert(b.text().length, ' - modified by B');
    a.online = true; b.online = true;
    await a.sync(); await b.sync(); await a.sync();
    await until(() => a.text().toString() === b.text().toString(), 'convergence');
    const merged = a.text().toString();
    // Y.js orders concurrent inserts at the same position by client id: either order is a valid merge, but the same everywhere.
    assert.ok(merged === 'Initial text - modified by A - modified by B' || merged === 'Initial text - modified by B - modified by A', merged);
    assert.equal((await serverContent(id)).content.notes, merged);
  } finally {
    await a.close(); await b.close();
  }
});

test('a client that goes offline, edits, and reconnects converges with edits made meanwhile', async () => {
  const id = chart();
  const a = await DocClient.open(unique('a-'), id);
  const b = await DocClient.open(unique('b-'), id);
  try {
    a.text().insert(0, 'shared ');
    await a.flush();
    await until(() => b.text().toString() === 'shared ', 'b sees the start');

    await a.goOffline();
    a.text().insert(a.text().length, 'offline-A ');
    a.text().insert(0, '[A was here] ');
    b.text().insert(0, 'online-B ');
    await b.flush();
    assert.ok(!b.text().toString().includes('offline-A'));

    await a.reconnect(); // same user: gets the lock back (grace period), syncs both ways
    await until(() => b.text().toString() === a.text().toString(), 'convergence');
    const text = b.text().toString();
    for (const part of ['offline-A', '[A was here]', 'online-B', 'shared']) assert.ok(text.includes(part), text);
    assert.equal((await serverContent(id)).content.notes, text);
  } finally {
    await a.close(); await b.close();
  }
});

test('a late joiner gets the whole document in one doc:sync', async () => {
  const id = chart();
  const a = await DocClient.open(unique('a-'), id);
  try {
    a.text().insert(0, 'History of present illness: ...');
    a.doc.getMap('vitals').set('pulse', 72);
    await a.flush();
    const late = await Client.connect(unique('late-'), 'Late', 'doctor');
    try {
      const joined = await late.join(id, 'viewer');
      assert.ok(joined.data.revision >= 2);
      const r = await late.invoke('doc:sync', { resourceId: id, stateVector: '' });
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Buffer.from(r.data.update, 'base64'));
      assert.equal(doc.getText('notes').toString(), 'History of present illness: ...');
      assert.equal(doc.getMap('vitals').get('pulse'), 72);
      assert.equal(r.data.revision, joined.data.revision);
    } finally {
      await late.stop();
    }
  } finally {
    await a.close();
  }
});

test('ten clients typing at different positions at once converge, identical to the server content', async () => {
  // Ten writers in one Y.Text need ten editor slots: the ward-board type admits 20.
  const id = `ward-board:${unique('')}`;
  const clients = [];
  try {
    for (let i = 0; i < 10; i++) clients.push(await DocClient.open(unique(`w${i}-`), id));
    clients[0].text().insert(0, '|'.repeat(10));
    await clients[0].flush();
    await until(() => clients.every((c) => c.text().length === 10), 'the seed text everywhere');
    const started = Date.now();
    let round = 0;
    while (Date.now() - started < 3000) {
      clients.forEach((c, i) => {
        const t = c.text();
        const pos = Math.min(t.length, Math.floor((t.length * i) / 10));
        t.insert(pos, String(i));
      });
      round++;
      await new Promise((r) => setTimeout(r, 20)); // typing cadence (50 keystrokes/s per client), not synchronization
    }
    await Promise.all(clients.map((c) => c.flush()));
    await until(() => clients.every((c) => c.text().toString() === clients[0].text().toString()), 'convergence', 20000);
    const text = clients[0].text().toString();
    assert.equal(text.length, 10 + round * 10);
    for (let i = 0; i < 10; i++) assert.equal([...text].filter((ch) => ch === String(i)).length, round);
    assert.equal((await serverContent(id)).content.notes, text);
  } finally {
    for (const c of clients) await c.close();
  }
});

test('awareness updates are relayed and cleared when a client disconnects', async () => {
  const id = chart();
  const a = await DocClient.open(unique('a-'), id);
  const b = await DocClient.open(unique('b-'), id);
  try {
    // A y-protocols awareness update: 1 entry, clientID, clock 1, state JSON.
    const { encoding } = await import('lib0');
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, 1); encoding.writeVarUint(enc, a.doc.clientID); encoding.writeVarUint(enc, 1);
    encoding.writeVarString(enc, JSON.stringify({ user: { name: 'A' }, focus: 'notes' }));
    const r = await a.client.invoke('awareness:update', { resourceId: id, update: b64(encoding.toUint8Array(enc)) });
    assert.equal(r.success, true);
    const relayed = await b.client.waitFor('awareness:update');
    assert.equal(relayed.payload.sessionId, a.client.connected.sessionId);
    await a.close();
    const cleared = await b.client.waitFor('awareness:update');
    const { decoding } = await import('lib0');
    const dec = decoding.createDecoder(Buffer.from(cleared.payload.update, 'base64'));
    assert.equal(decoding.readVarUint(dec), 1);
    assert.equal(decoding.readVarUint(dec), a.doc.clientID);
    assert.equal(decoding.readVarUint(dec), 2);
    assert.equal(decoding.readVarString(dec), 'null');
  } finally {
    await b.close();
  }
});
