// The peer for bench/Propagation.Bench: a plain @hocuspocus/server (in memory, no extensions, no auth) in its own
// Node process on loopback. Started by bench.mjs as `node hocuspocus-server.mjs PORT`; prints "listening PORT".
// GET /content?name=DOC answers {"name", "notes"} (the text of the document's Y.Text "notes", for the
// convergence check; 404 when the document is not loaded).
import { Server } from '@hocuspocus/server';

const port = Number(process.argv[2] ?? 0);
const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  async onRequest({ request, response, instance }) {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname !== '/content') return;
    const doc = instance.documents.get(url.searchParams.get('name') ?? '');
    response.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(doc ? { name: doc.name, notes: doc.getText('notes').toString() } : { error: 'not loaded' }));
    throw null; // handled: stop the default "Welcome to Hocuspocus!" answer
  },
});
await server.listen();
console.log(`listening ${server.address.port}`);
