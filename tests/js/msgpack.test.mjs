// The MessagePack hub protocol (issue 14) with the real @microsoft/signalr-protocol-msgpack client: the same names as
// JSON, Y.js updates and state vectors as bytes both ways, JSON and MessagePack clients on one document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { Client, unique } from './lib/collab.mjs';

const msgpack = () => ({ protocol: new MessagePackHubProtocol() });

test('MessagePack clients send and receive Y.js updates as bytes, and share a document with a JSON client', async () => {
  const doc = `patient-chart:${unique('')}`;
  const a = await Client.connect(unique('mp-a-'), 'A', 'doctor', msgpack());
  const b = await Client.connect(unique('mp-b-'), 'B', 'doctor', msgpack());
  const j = await Client.connect(unique('json-'), 'J', 'doctor');
  try {
    assert.equal(a.connected.username, 'A');
    assert.ok(a.connected.sessionId.length > 10);
    const joined = await a.join(doc, 'editor');
    assert.deepEqual(Object.keys(joined).sort(), ['data', 'newRevision', 'requestId', 'success', 'timestamp']);
    assert.equal(joined.data.mode, 'editor');
    assert.equal((await b.join(doc, 'viewer')).success, true);
    assert.equal((await j.join(doc, 'viewer')).success, true);

    const ydoc = new Y.Doc();
    let update = null;
    ydoc.on('update', (u) => { update = u; });
    ydoc.getText('notes').insert(0, 'bytes on the wire');
    const ack = await a.invoke('doc:update', { resourceId: doc, update });
    assert.equal(ack.success, true, JSON.stringify(ack.error));
    assert.equal(typeof ack.newRevision, 'number');

    const toB = await b.waitFor('doc:update');
    assert.ok(toB.payload.update instanceof Uint8Array, 'MessagePack clients get bin');
    assert.deepEqual([...toB.payload.update], [...update]);
    const toJ = await j.waitFor('doc:update');
    assert.equal(toJ.payload.update, Buffer.from(update).toString('base64'), 'JSON clients get base64');

    const sync = await b.invoke('doc:sync', { resourceId: doc, stateVector: Y.encodeStateVector(new Y.Doc()) });
    assert.ok(sync.data.update instanceof Uint8Array && sync.data.stateVector instanceof Uint8Array);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, sync.data.update);
    assert.equal(copy.getText('notes').toString(), 'bytes on the wire');
  } finally {
    await Promise.all([a.stop(), b.stop(), j.stop()]);
  }
});

test('a MessagePack client gets the JSON error codes for bad arguments and stays connected', async () => {
  const c = await Client.connect(unique('mp-bad-'), 'Bad', 'doctor', msgpack());
  const doc = `patient-chart:${unique('')}`;
  try {
    assert.equal((await c.join(doc, 'editor')).success, true);
    const badId = await c.connection.invoke('heartbeat', { requestId: 42 });
    assert.equal(badId.error.code, 'VALIDATION_FAILED');
    assert.equal(badId.error.details.field, 'requestId');
    assert.equal((await c.connection.invoke('heartbeat', 'not an object')).error.code, 'VALIDATION_FAILED');
    assert.equal((await c.invoke('doc:update', { resourceId: doc, update: new Uint8Array([1, 255, 255, 255, 127, 9]) })).error.code, 'INVALID_UPDATE');
    assert.equal((await c.invoke('doc:update', { resourceId: doc, update: new Uint8Array(0) })).error.code, 'VALIDATION_FAILED');
    assert.equal((await c.invoke('heartbeat')).success, true);
  } finally {
    await c.stop();
  }
});
