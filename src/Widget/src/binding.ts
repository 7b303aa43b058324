// Two-way binding of one <input>/<textarea> to one Y.Text.
//
// DOM -> Y: on every input event, the smallest single replacement (common prefix and suffix) between the
// Y.Text and the field's new value, in one transaction tagged with this binding as origin.
// Y -> DOM: on remote changes, the new value is written and the local caret/selection is carried through
// the change's delta (a remote insert before the caret moves it right, one after it leaves it alone).
//
// IME composition (Japanese, Chinese, Korean input, dead keys): while a composition is active the browser
// owns the field's text, and writing the value would cancel or garble it. So nothing is written then: remote
// changes wait, with their deltas, until compositionend; there the composed text is diffed against the value
// the composition started from, moved through the waiting deltas, written as one replacement, and the field
// shows the merged text with the caret after what was composed.
//
// Seeding: a field the page rendered with a value, whose Y.Text is empty, gives the document its initial
// value (seed()). The seed is made in a scratch doc under a client id derived from the field id and the value,
// so two editors seeding the same empty field at once produce the same Yjs item (same id, same content),
// which the document holds once: the value is never doubled.
import * as Y from 'yjs';
import type { CollabField } from './discovery';
import { hash32 } from './util';

export interface BindingHooks {
  /** A change from someone else reached this field. */
  onRemoteChange?: (binding: FieldBinding) => void;
  /** Whether local typing may be written to the Y.Text now. */
  canWrite?: () => boolean;
}

export class FieldBinding {
  readonly el: CollabField;
  readonly id: string;
  readonly ytext: Y.Text;
  private readonly _doc: Y.Doc;
  private readonly _hooks: BindingHooks;
  private _composing = false;
  /** The shared value when the composition started, and the remote deltas that arrived since. */
  private _compositionBase = '';
  private _deferred: DeltaOp[][] = [];
  private _pageReadOnly: boolean;
  private _destroyed = false;
  private readonly _observer: (event: Y.YTextEvent, tx: Y.Transaction) => void;
  private readonly _onInput: () => void;
  private readonly _onCompositionStart: () => void;
  private readonly _onCompositionEnd: () => void;

  constructor(el: CollabField, id: string, doc: Y.Doc, hooks: BindingHooks = {}) {
    this.el = el;
    this.id = id;
    this._doc = doc;
    this.ytext = doc.getText(id);
    this._hooks = hooks;
    this._pageReadOnly = el.readOnly;

    this._observer = (event, tx) => {
      if (tx.origin === this) return;
      this._applyRemote(event);
    };
    this._onInput = () => {
      if (!this._composing) this.pushLocal();
    };
    this._onCompositionStart = () => {
      if (this._composing) return;
      this.pushLocal(); // the field and the Y.Text agree before the browser takes the field over
      this._composing = true;
      this._compositionBase = this.ytext.toString();
      this._deferred = [];
    };
    this._onCompositionEnd = () => {
      if (!this._composing) return;
      this._composing = false;
      const deltas = this._deferred;
      this._deferred = [];
      if (deltas.length === 0) this.pushLocal();
      else this._mergeComposition(this._compositionBase, deltas);
    };
    this.ytext.observe(this._observer);
    el.addEventListener('input', this._onInput);
    el.addEventListener('change', this._onInput);
    el.addEventListener('compositionstart', this._onCompositionStart);
    el.addEventListener('compositionend', this._onCompositionEnd);

    // The document wins over what the page rendered; an empty document is seeded later (see seed()).
    const current = this.ytext.toString();
    if (current.length > 0 && current !== el.value) el.value = current;
  }

  /** Whether an IME composition is active in the field (remote changes wait for its end). */
  get composing(): boolean {
    return this._composing;
  }

  /**
   * Copies the page's initial value into an empty Y.Text (called once we are a synced editor), as an item
   * every editor seeding the same value makes identically (see the top of this file).
   */
  seed(): void {
    if (this._destroyed || this._composing || this.ytext.length > 0 || this.el.value.length === 0) return;
    if (this._hooks.canWrite && !this._hooks.canWrite()) return;
    const value = this.el.value;
    const scratch = new Y.Doc();
    scratch.clientID = seedClientId(this.id, value);
    scratch.getText(this.id).insert(0, value);
    Y.applyUpdate(this._doc, Y.encodeStateAsUpdate(scratch), this);
    scratch.destroy();
    // Someone else's seed of another value may have won meanwhile: the document's value is shown.
    const shared = this.ytext.toString();
    if (shared !== this.el.value) this._setValuePreservingSelection(shared, null);
  }

  /** Writes the field's value into the Y.Text as one minimal replacement. */
  pushLocal(): void {
    if (this._destroyed) return;
    const next = this.el.value;
    const prev = this.ytext.toString();
    if (next === prev) return;
    if (this._hooks.canWrite && !this._hooks.canWrite()) {
      // Not allowed to edit (someone else holds the lock): put the shared value back.
      this._setValuePreservingSelection(prev, null);
      return;
    }
    const { start, endPrev, endNext } = replacement(prev, next);
    this._doc.transact(() => {
      if (endPrev > start) this.ytext.delete(start, endPrev - start);
      if (endNext > start) this.ytext.insert(start, next.slice(start, endNext));
    }, this);
  }

  setEditable(editable: boolean): void {
    const readOnly = this._pageReadOnly || !editable;
    if (this.el.readOnly !== readOnly) {
      // Mark our own read-only so discovery does not mistake it for the page's.
      if (readOnly) this.el.setAttribute('data-collab-readonly', '');
      this.el.readOnly = readOnly;
      if (!readOnly) this.el.removeAttribute('data-collab-readonly');
    }
  }

  destroy(): void {
    if (this._destroyed) return;
    this._destroyed = true;
    this.ytext.unobserve(this._observer);
    this.el.removeEventListener('input', this._onInput);
    this.el.removeEventListener('change', this._onInput);
    this.el.removeEventListener('compositionstart', this._onCompositionStart);
    this.el.removeEventListener('compositionend', this._onCompositionEnd);
    this.setEditable(true);
  }

  private _applyRemote(event: Y.YTextEvent): void {
    if (this._composing) {
      this._deferred.push(event.delta as DeltaOp[]); // lands at compositionend
      this._hooks.onRemoteChange?.(this);
      return;
    }
    const next = this.ytext.toString();
    if (next === this.el.value) return;
    this._setValuePreservingSelection(next, [event.delta as DeltaOp[]]);
    this._hooks.onRemoteChange?.(this);
  }

  /** compositionend after remote changes: the composed replacement, moved through them, then the merged text. */
  private _mergeComposition(base: string, deltas: DeltaOp[][]): void {
    const el = this.el;
    const local = el.value;
    const through = (i: number) => deltas.reduce((at, d) => transformIndex(at, d), i);
    const { start, endPrev, endNext } = replacement(base, local);
    if ((endPrev === start && endNext === start) || (this._hooks.canWrite && !this._hooks.canWrite())) {
      // Nothing composed (cancelled), or we may not write: show the shared text.
      this._setValuePreservingSelection(this.ytext.toString(), null, (i) => through(Math.min(i, base.length)));
      return;
    }
    const inserted = local.slice(start, endNext);
    const from = Math.min(through(start), this.ytext.length);
    const to = Math.min(Math.max(through(endPrev), from), this.ytext.length);
    this._doc.transact(() => {
      if (to > from) this.ytext.delete(from, to - from);
      if (inserted.length > 0) this.ytext.insert(from, inserted);
    }, this);
    const map = (i: number) =>
      i <= start ? through(i) : i >= endNext ? from + inserted.length + Math.max(0, through(i - endNext + endPrev) - to) : from + (i - start);
    this._setValuePreservingSelection(this.ytext.toString(), null, map);
  }

  private _setValuePreservingSelection(next: string, deltas: DeltaOp[][] | null, map?: (index: number) => number): void {
    const el = this.el;
    const focused = el.ownerDocument.activeElement === el;
    let start = el.selectionStart ?? 0;
    let end = el.selectionEnd ?? 0;
    const direction = el.selectionDirection ?? 'none';
    for (const delta of deltas ?? []) {
      start = transformIndex(start, delta);
      end = transformIndex(end, delta);
    }
    if (map) {
      start = map(start);
      end = map(end);
    }
    el.value = next;
    if (focused) {
      start = Math.min(start, next.length);
      end = Math.min(Math.max(end, start), next.length);
      try {
        el.setSelectionRange(start, end, direction as 'forward' | 'backward' | 'none');
      } catch {
        // email/url inputs have no selection API
      }
    }
  }
}

type DeltaOp = { insert?: string | object; delete?: number; retain?: number };

/** Moves an index through a delta: inserts strictly before it shift it, deletes before it pull it back. */
export function transformIndex(index: number, delta: DeltaOp[]): number {
  let pos = 0; // position in the old text
  let shift = 0;
  for (const op of delta) {
    if (pos > index) break;
    if (op.retain !== undefined) {
      pos += op.retain;
    } else if (op.insert !== undefined) {
      const len = typeof op.insert === 'string' ? op.insert.length : 1;
      if (pos < index) shift += len;
    } else if (op.delete !== undefined) {
      if (pos < index) shift -= Math.min(op.delete, index - pos);
      pos += op.delete;
    }
  }
  return Math.max(0, index + shift);
}

/** The smallest single replacement turning `prev` into `next`: prev[start, endPrev) -> next[start, endNext). */
function replacement(prev: string, next: string): { start: number; endPrev: number; endNext: number } {
  let start = 0;
  const minLen = Math.min(prev.length, next.length);
  while (start < minLen && prev.charCodeAt(start) === next.charCodeAt(start)) start++;
  // Do not split a surrogate pair.
  if (start > 0 && isHighSurrogate(prev.charCodeAt(start - 1))) start--;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev.charCodeAt(endPrev - 1) === next.charCodeAt(endNext - 1)) {
    endPrev--;
    endNext--;
  }
  return { start, endPrev, endNext };
}

/** The client id of a seed: the same for every editor seeding this value into this field; never 0. */
export function seedClientId(fieldId: string, value: string): number {
  return hash32(`seed\u0000${fieldId}\u0000${value}`) || 1;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
