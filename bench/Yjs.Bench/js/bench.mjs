// Node side of the Y.js benchmark: the same operations as the C# program (Program.cs), on the
// same trace, with the real yjs. Prints one JSON object with milliseconds per operation.
//   node bench.mjs <trace.json.gz> [iterations]
import * as Y from 'yjs'
import fs from 'node:fs'
import zlib from 'node:zlib'
import { performance } from 'node:perf_hooks'

const [file, itArg] = process.argv.slice(2)
const iterations = Number(itArg || 2)
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)))
const concurrent = trace.kind === 'concurrent'

const time = (f) => { let best = Infinity; let result; for (let i = 0; i < iterations; i++) { const t0 = performance.now(); result = f(); best = Math.min(best, performance.now() - t0) } return { ms: best, result } }

function applyPatches (text, patches) {
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del)
    if (ins.length > 0) text.insert(pos, ins)
  }
}

// Replays the trace as local edits; returns the per-transaction updates and the final document.
function replay () {
  if (!concurrent) {
    const doc = new Y.Doc()
    doc.clientID = 1
    const updates = []
    doc.on('update', (u) => updates.push(u))
    const text = doc.getText('text')
    for (const txn of trace.txns) doc.transact(() => applyPatches(text, txn.patches))
    return { doc, updates }
  }
  const n = trace.txns.length
  const docs = []
  const applied = []
  for (let a = 0; a < trace.numAgents; a++) {
    const d = new Y.Doc()
    d.clientID = a + 1
    docs.push(d)
    applied.push(new Uint8Array(n))
  }
  const updates = new Array(n)
  for (let i = 0; i < n; i++) {
    const txn = trace.txns[i]
    const a = txn.agent
    const doc = docs[a]
    // bring the agent's document to exactly the version after the transaction's parents
    const stack = [...txn.parents]
    const order = []
    while (stack.length > 0) {
      const p = stack[stack.length - 1]
      if (applied[a][p] === 1) { stack.pop(); continue }
      const missing = trace.txns[p].parents.filter((q) => applied[a][q] !== 1)
      if (missing.length > 0) { for (const q of missing) stack.push(q); continue }
      stack.pop()
      applied[a][p] = 1
      Y.applyUpdate(doc, updates[p], 'remote')
      order.push(p)
    }
    let update = null
    const onUpdate = (u, origin) => { if (origin !== 'remote') update = u }
    doc.on('update', onUpdate)
    doc.transact(() => applyPatches(doc.getText('text'), txn.patches))
    doc.off('update', onUpdate)
    updates[i] = update || new Uint8Array([0, 0])
    applied[a][i] = 1
  }
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return { doc, updates }
}

const out = { trace: file, yjs: JSON.parse(fs.readFileSync(new URL('../../../node_modules/yjs/package.json', import.meta.url))).version }
const local = time(replay)
out.localEdits = local.ms
const { doc, updates } = local.result
out.updates = updates.length
out.textOk = doc.getText('text').toString() === trace.endContent

out.applyEach = time(() => { const d = new Y.Doc(); for (const u of updates) Y.applyUpdate(d, u); return d }).ms
const full = Y.encodeStateAsUpdate(doc)
out.updateBytes = full.length
out.loadFinal = time(() => { const d = new Y.Doc(); Y.applyUpdate(d, full); return d.getText('text').toString().length }).ms
out.encodeState = time(() => Y.encodeStateAsUpdate(doc)).ms

// merge: compact the log in groups of 100 updates, then merge the groups into one update
const merged = time(() => {
  const groups = []
  for (let i = 0; i < updates.length; i += 100) groups.push(Y.mergeUpdates(updates.slice(i, i + 100)))
  return Y.mergeUpdates(groups)
})
out.merge = merged.ms
const check = new Y.Doc()
Y.applyUpdate(check, merged.result)
out.mergeOk = check.getText('text').toString() === trace.endContent

// diff: what peers at 0%, 25%, 50%, 75% and 100% of the history lack
const svs = [0, 0.25, 0.5, 0.75, 1].map((f) => {
  const d = new Y.Doc()
  const k = Math.floor(f * updates.length)
  for (let i = 0; i < k; i++) Y.applyUpdate(d, updates[i])
  return Y.encodeStateVector(d)
})
out.diff = time(() => svs.map((sv) => Y.diffUpdate(full, sv).length)).ms
console.log(JSON.stringify(out))
