// Two-way binding of one <input>/<textarea> to one Y.Text.
//
// DOM -> Y: on every input event, the smallest single replacement (common prefix and suffix) between the
// Y.Text and the field's new value, in one transaction tagged with this binding as origin.
// Y -> DOM: on remote changes, the new value is written and the local caret/selection is carried through
// the change's delta (a remote insert before the caret moves it right, one after it leaves it alone).
import * as Y from 'yjs';
import type { CollabField } from './discovery';

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
      this._composing = true;
    };
    this._onCompositionEnd = () => {
      this._composing = false;
      this.pushLocal();
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

  /** Copies the page's initial value into an empty Y.Text (called once we are a synced editor). */
  seed(): void {
    if (this.ytext.length === 0 && this.el.value.length > 0) this.pushLocal();
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
    let start = 0;
    const minLen = Math.min(prev.length, next.length);
    while (start < minLen && prev.charCodeAt(start) === next.charCodeAt(start)) start++;
    let endPrev = prev.length;
    let endNext = next.length;
    while (endPrev > start && endNext > start && prev.charCodeAt(endPrev - 1) === next.charCodeAt(endNext - 1)) {
      endPrev--;
      endNext--;
    }
    // Do not split a surrogate pair.
    if (start > 0 && isHighSurrogate(prev.charCodeAt(start - 1))) start--;
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
    const next = this.ytext.toString();
    if (next === this.el.value) return;
    this._setValuePreservingSelection(next, event.delta as DeltaOp[]);
    this._hooks.onRemoteChange?.(this);
  }

  private _setValuePreservingSelection(next: string, delta: DeltaOp[] | null): void {
    const el = this.el;
    const focused = el.ownerDocument.activeElement === el;
    let start = el.selectionStart ?? 0;
    let end = el.selectionEnd ?? 0;
    const direction = el.selectionDirection ?? 'none';
    if (delta) {
      start = transformIndex(start, delta);
      end = transformIndex(end, delta);
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

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
