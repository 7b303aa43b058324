// Small helpers shared by the widget modules.

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk) as unknown as number[]);
  }
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** FNV-1a, 32 bit, unsigned. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a, 32 bit, as base36: short stable ids from arbitrary text. */
export function hash(text: string): string {
  return hash32(text).toString(36);
}

let counter = 0;
export function requestId(prefix = 'w'): string {
  counter = (counter + 1) % 1e9;
  return `${prefix}-${Date.now().toString(36)}-${counter.toString(36)}`;
}

/** The claims of a JWT, unverified: only used to scope the local cache and label the UI. */
export function jwtClaims(token: string | undefined): Record<string, unknown> {
  if (!token) return {};
  try {
    const part = token.split('.')[1];
    const json = decodeURIComponent(
      Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''),
    );
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function initials(name: string): string {
  const words = name
    .replace(/^(dr|mr|mrs|ms|nurse|prof)\.?\s+/i, '')
    .split(/\s+/)
    .filter(Boolean);
  const letters = words.length >= 2 ? words[0][0] + words[words.length - 1][0] : (words[0] ?? '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A stable pleasant colour per user id. */
export function colorFor(id: string): string {
  const palette = ['#2563eb', '#9333ea', '#db2777', '#0d9488', '#ea580c', '#4f46e5', '#0891b2', '#65a30d'];
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return palette[h % palette.length];
}

export function hhmm(iso: string | undefined | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

const ID_CHARS = /[^A-Za-z0-9_.-]+/g;

/** Turns arbitrary text into a resource-id segment: [A-Za-z0-9_.-]{1,128}. */
export function sanitizeSegment(text: string, max = 128): string {
  let s = text.replace(ID_CHARS, '.').replace(/\.{2,}/g, '.').replace(/^\.+|\.+$/g, '');
  if (!s) s = 'root';
  if (s.length > max) s = s.slice(0, max - 9) + '.' + hash(s).padStart(8, '0').slice(0, 8);
  return s;
}

/**
 * The default resource id of a page: `page:<host path>`, e.g. https://emr.example/patients/12/notes ->
 * `page:emr.example.patients.12.notes`. The query is left out (it often carries user or view state), so
 * everyone on the same page shares one resource; so is a fragment, except a hash route (`#/...` or `#!/...`,
 * as hash-routed apps use for their pages): https://emr.example/app#/patients/12/notes ->
 * `page:emr.example.app.patients.12.notes`.
 */
export function deriveResourceId(loc: { host: string; pathname: string; hash?: string } = location): string {
  const route = /^#!?\//.test(loc.hash ?? '') ? (loc.hash ?? '').replace(/^#!?/, '').split('?')[0] : '';
  return 'page:' + sanitizeSegment((loc.host + loc.pathname + route).toLowerCase());
}
