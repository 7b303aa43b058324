// Long-lived yjs peer for the C# cross-check tests.
// Reads one JSON command per line on stdin, answers one JSON line on stdout: {"ok":true,...} or {"ok":false,"error":"..."}.
// Documents are addressed by id; random choices are made by the caller (fractions in [0,1) pick positions and targets),
// so a run is reproducible from the C# seed alone.
import * as Y from 'yjs'
import readline from 'node:readline'

const docs = new Map()
const b64 = (u8) => Buffer.from(u8).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))

function docOf (id, clientId) {
  let entry = docs.get(id)
  if (!entry) {
    const doc = new Y.Doc()
    if (clientId != null) doc.clientID = clientId
    // Same rule as the vector checker: content is what the updates say, no local formatting clean-up.
    doc.on('afterTransaction', (tr) => { tr._needFormattingCleanup = false })
    entry = { doc, updates: [] }
    doc.on('update', (u, origin) => { if (origin !== 'remote') entry.updates.push(u) })
    docs.set(id, entry)
  }
  return entry
}

function serValue (v) {
  if (v instanceof Y.XmlText) return v.toString()
  if (v instanceof Y.Text) return v.toString()
  if (v instanceof Y.XmlElement) return v.toString()
  if (v instanceof Y.XmlFragment) return v.toString()
  if (v instanceof Y.Map) { const o = {}; v.forEach((val, key) => { o[key] = serValue(val) }); return o }
  if (v instanceof Y.Array) return v.toArray().map(serValue)
  if (v instanceof Y.Doc) return { $subdoc: v.guid }
  if (v instanceof Uint8Array) return { $binary: b64(v) }
  if (Array.isArray(v)) return v.map(serValue)
  if (v === undefined) return null
  if (typeof v === 'bigint') return Number(v)
  if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = serValue(v[k]); return o }
  return v
}

function content (doc, roots) {
  const out = {}
  for (const [name, type] of roots) {
    switch (type) {
      case 'Text': { const t = doc.getText(name); out[name] = { type, json: t.toString(), delta: t.toDelta().map((op) => { const o = { insert: typeof op.insert === 'string' ? op.insert : serValue(op.insert) }; if (op.attributes && Object.keys(op.attributes).length) o.attributes = serValue(op.attributes); return o }) }; break }
      case 'Map': out[name] = { type, json: serValue(doc.getMap(name)) }; break
      case 'Array': out[name] = { type, json: serValue(doc.getArray(name)) }; break
      case 'XmlFragment': out[name] = { type, json: doc.getXmlFragment(name).toString() }; break
    }
  }
  return out
}

// All shared types of a kind (roots and nested), in a deterministic order.
function typesOf (doc, kind) {
  const found = []
  const visit = (t) => {
    const isKind = kind === 'Text' ? (t instanceof Y.Text && !(t instanceof Y.XmlText))
      : kind === 'Map' ? (t instanceof Y.Map)
        : kind === 'Array' ? (t instanceof Y.Array)
          : kind === 'XmlText' ? (t instanceof Y.XmlText)
            : kind === 'XmlElement' ? (t instanceof Y.XmlElement)
              : (t instanceof Y.XmlFragment && !(t instanceof Y.XmlElement))
    if (isKind) found.push(t)
    if (t instanceof Y.Map) [...t.keys()].sort().forEach((k) => { const v = t.get(k); if (v instanceof Y.AbstractType) visit(v) })
    if (t instanceof Y.Array || t instanceof Y.XmlFragment) t.toArray().forEach((v) => { if (v instanceof Y.AbstractType) visit(v) })
    if (t instanceof Y.Text) t.toDelta().forEach((op) => { if (op.insert instanceof Y.AbstractType) visit(op.insert) })
  }
  visit(doc.getText('text')); visit(doc.getMap('map')); visit(doc.getArray('array')); visit(doc.getXmlFragment('xml'))
  return found
}

const pick = (list, f) => list.length === 0 ? null : list[Math.min(list.length - 1, Math.floor(f * list.length))]
const at = (len, f) => Math.min(len, Math.floor(f * (len + 1)))
const makeNested = (kind) => kind === 'Map' ? new Y.Map() : kind === 'Array' ? new Y.Array() : kind === 'Text' ? new Y.Text() : null
const value = (v) => (v && typeof v === 'object' && v.$binary !== undefined) ? unb64(v.$binary) : v

// Positions are snapped to code point boundaries: a local edit inside a surrogate pair makes yjs
// replace both halves by U+FFFD in the editing peer only (a lossy local split that other yjs peers
// do not see either), so such edits cannot be compared across peers.
const flat = (t) => t.toDelta().map((op) => typeof op.insert === 'string' ? op.insert : '\u0000').join('')
const snap = (s, i) => (i > 0 && i < s.length && /[\uD800-\uDBFF]/.test(s[i - 1]) && /[\uDC00-\uDFFF]/.test(s[i])) ? i + 1 : i
const range = (t, c) => { const s = flat(t); const i = snap(s, Math.min(t.length - 1, at(t.length, c.pos))); const e = snap(s, Math.min(t.length, i + c.len)); return [i, e - i] }

function edit (doc, c) {
  switch (c.op) {
    case 'textInsert': { const t = pick(typesOf(doc, c.kind || 'Text'), c.target); if (!t) return; t.insert(snap(flat(t), at(t.length, c.pos)), c.text, c.attrs || undefined); return }
    case 'textDelete': { const t = pick(typesOf(doc, c.kind || 'Text'), c.target); if (!t || t.length === 0) return; const [i, n] = range(t, c); if (n > 0) t.delete(i, n); return }
    case 'textFormat': { const t = pick(typesOf(doc, c.kind || 'Text'), c.target); if (!t || t.length === 0) return; const [i, n] = range(t, c); if (n > 0) t.format(i, n, c.attrs); return }
    case 'textEmbed': { const t = pick(typesOf(doc, 'Text'), c.target); if (!t) return; t.insertEmbed(snap(flat(t), at(t.length, c.pos)), c.embed, c.attrs || undefined); return }
    case 'mapSet': { const m = pick(typesOf(doc, 'Map'), c.target); if (!m) return; m.set(c.key, c.nested ? makeNested(c.nested) : value(c.value)); return }
    case 'mapDelete': { const m = pick(typesOf(doc, 'Map'), c.target); if (!m) return; m.delete(c.key); return }
    case 'arrayInsert': { const a = pick(typesOf(doc, 'Array'), c.target); if (!a) return; a.insert(at(a.length, c.pos), c.nested ? [makeNested(c.nested)] : c.values.map(value)); return }
    case 'arrayDelete': { const a = pick(typesOf(doc, 'Array'), c.target); if (!a || a.length === 0) return; const i = Math.min(a.length - 1, at(a.length, c.pos)); a.delete(i, Math.min(c.len, a.length - i)); return }
    case 'xmlInsert': {
      const parents = [...typesOf(doc, 'XmlFragment'), ...typesOf(doc, 'XmlElement')]
      const p = pick(parents, c.target); if (!p) return
      let node
      if (c.name) { node = new Y.XmlElement(c.name); for (const [k, v] of Object.entries(c.attrs || {})) node.setAttribute(k, v); const tx = new Y.XmlText(); node.insert(0, [tx]); tx.insert(0, c.text || '') } else { node = new Y.XmlText(); node.insert(0, c.text || '') }
      p.insert(at(p.length, c.pos), [node]); return
    }
    case 'xmlAttr': { const e = pick(typesOf(doc, 'XmlElement'), c.target); if (!e) return; if (c.value === null) e.removeAttribute(c.key); else e.setAttribute(c.key, c.value); return }
    case 'xmlDelete': { const p = pick([...typesOf(doc, 'XmlFragment'), ...typesOf(doc, 'XmlElement')], c.target); if (!p || p.length === 0) return; const i = Math.min(p.length - 1, at(p.length, c.pos)); p.delete(i, Math.min(c.len, p.length - i)); return }
    default: throw new Error('unknown edit ' + c.op)
  }
}

function handle (c) {
  const entry = c.doc !== undefined ? docOf(c.doc, c.clientId) : null
  const doc = entry && entry.doc
  switch (c.cmd) {
    case 'create': return {}
    case 'apply': Y.applyUpdate(doc, unb64(c.update), 'remote'); return {}
    case 'sv': return { sv: b64(Y.encodeStateVector(doc)) }
    case 'diff': return { update: b64(Y.encodeStateAsUpdate(doc, c.sv ? unb64(c.sv) : undefined)) }
    case 'content': return { content: content(doc, c.roots) }
    case 'updates': return { count: entry.updates.length, update: c.index != null && entry.updates.length > 0 ? b64(entry.updates[c.index % entry.updates.length]) : null }
    case 'edit': doc.transact(() => { for (const e of c.edits) edit(doc, e) }); return {}
    case 'pending': return { structs: doc.store.pendingStructs !== null, ds: doc.store.pendingDs !== null }
    case 'merge': return { update: b64(Y.mergeUpdates(c.updates.map(unb64))) }
    default: throw new Error('unknown command ' + c.cmd)
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', (line) => {
  if (!line.trim()) return
  let reply
  try {
    reply = { ok: true, ...handle(JSON.parse(line)) }
  } catch (e) {
    reply = { ok: false, error: String(e && e.stack || e) }
  }
  process.stdout.write(JSON.stringify(reply) + '\n')
})
