// Which fields of the host page become collaborative, and under which stable id.
//
// Collaborative: <textarea> and text-like <input>s (text, search, email, tel, url, no type). Never:
// password, hidden, disabled, read-only-by-the-page fields, fields inside [data-collab="off"], or the
// widget's own elements. The id names the field's Y.Text root in the resource's Y.Doc, so it must be the
// same in every browser and across reloads:
//   id-<id>  >  name-<name>  >  placeholder-<hash>  >  pos-<hash of the element's DOM path>
// (a suffix -2, -3 ... separates fields that would otherwise share one, in document order).

export type CollabField = HTMLInputElement | HTMLTextAreaElement;

import { hash } from './util';

const TEXT_TYPES = new Set(['', 'text', 'search', 'email', 'tel', 'url']);

export const ROOT_ATTRIBUTE = 'data-collab-sdk-root';

export function isCollaborative(el: Element): el is CollabField {
  if (el instanceof HTMLTextAreaElement) {
    // fall through to the common checks
  } else if (el instanceof HTMLInputElement) {
    const type = el.type.toLowerCase(); // normalised: an unknown type reads as 'text'
    if (!TEXT_TYPES.has(type)) return false; // password, hidden, checkbox, number, date ...
  } else {
    return false;
  }
  if (el.disabled) return false;
  if (el.hasAttribute('readonly') && !el.hasAttribute('data-collab-readonly')) return false;
  if (el.closest('[data-collab="off"]')) return false;
  if (el.closest(`[${ROOT_ATTRIBUTE}]`)) return false;
  return true;
}

export function findFields(root: ParentNode): CollabField[] {
  const out: CollabField[] = [];
  if (root instanceof Element && isCollaborative(root)) out.push(root);
  root.querySelectorAll('input, textarea').forEach((el) => {
    if (isCollaborative(el)) out.push(el);
  });
  return out;
}

/** The field's base id, before de-duplication. */
export function baseId(el: CollabField): string {
  if (el.id) return `id-${el.id}`;
  const name = el.getAttribute('name');
  if (name) return `name-${name}`;
  const placeholder = el.getAttribute('placeholder');
  if (placeholder) return `placeholder-${hash(placeholder)}`;
  return `pos-${hash(domPath(el))}`;
}

/** tag:nth-of-type steps from <body>: stable while the page's structure is. */
export function domPath(el: Element): string {
  const steps: string[] = [];
  let node: Element | null = el;
  while (node && node !== document.body && node !== document.documentElement) {
    const parent: Element | null = node.parentElement;
    let index = 1;
    if (parent) {
      for (const sibling of Array.from(parent.children)) {
        if (sibling === node) break;
        if (sibling.tagName === node.tagName) index++;
      }
    }
    steps.push(`${node.tagName.toLowerCase()}:${index}`);
    node = parent;
  }
  return steps.reverse().join('/');
}

/**
 * Assigns ids to all fields currently in the document, in document order, keeping ids already given
 * (a field keeps its id for as long as it is bound).
 */
export function assignIds(fields: CollabField[], existing: Map<CollabField, string>): Map<CollabField, string> {
  const ordered = fields.slice().sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  const used = new Set(existing.values());
  const counts = new Map<string, number>();
  const result = new Map<CollabField, string>();
  for (const el of ordered) {
    const base = baseId(el);
    const n = (counts.get(base) ?? 0) + 1;
    counts.set(base, n);
    const known = existing.get(el);
    if (known) {
      result.set(el, known);
      continue;
    }
    let k = n;
    let id = k === 1 ? base : `${base}-${k}`;
    while (used.has(id)) {
      k++;
      id = `${base}-${k}`;
    }
    used.add(id);
    result.set(el, id);
  }
  return result;
}
