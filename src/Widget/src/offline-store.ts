// Encrypted IndexedDB cache of unsent edits, so a reload while offline loses nothing.
//
// The cache holds patient data, so it is encrypted with AES-GCM (256 bit, fresh 96-bit IV per write)
// under a key made by Web Crypto as NON-EXTRACTABLE: no script, ours included, can ever read its bytes;
// it can only ask the browser to encrypt or decrypt with it. The CryptoKey object (a handle) is kept
// in memory for the session and stored by structured clone in IndexedDB next to the data, because a
// reload loses memory and "a reload while offline loses nothing" needs the same key after it.
// The cache exists only while there are unsent edits: it is deleted, key included, as soon as the
// server acknowledged everything, on destroy()/logout(), and when older than maxAgeMs.
// One record per (user, resource). Writes merge with what is stored (Y.js updates merge losslessly),
// so two tabs of one user do not overwrite each other's unsent edits.
import * as Y from 'yjs';

const DB_NAME = 'collab-sdk-offline';
const DB_VERSION = 1;
const DOCS = 'docs';
const KEYS = 'keys';

interface DocRecord {
  scope: string;
  iv: Uint8Array;
  data: ArrayBuffer;
  savedAt: number;
}

interface KeyRecord {
  scope: string;
  key: CryptoKey;
  createdAt: number;
}

export class OfflineStore {
  private _key: CryptoKey | null = null;
  private _queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly _db: IDBDatabase,
    readonly scope: string,
    private readonly _maxAgeMs: number,
  ) {}

  /** Opens the cache, or null when this browser has no IndexedDB or Web Crypto (e.g. not a secure context). */
  static async open(scope: string, maxAgeMs = 12 * 3600 * 1000): Promise<OfflineStore | null> {
    if (typeof indexedDB === 'undefined' || !globalThis.crypto?.subtle) return null;
    try {
      const db = await openDb();
      const store = new OfflineStore(db, scope, maxAgeMs);
      await store._purgeExpired();
      return store;
    } catch {
      return null;
    }
  }

  /** The unsent state saved by an earlier page of this user on this resource, decrypted; null if none. */
  load(): Promise<Uint8Array | null> {
    return this._serial(async () => {
      const record = await request<DocRecord | undefined>(this._db.transaction(DOCS).objectStore(DOCS).get(this.scope));
      if (!record) return null;
      const key = await this._getKey(false);
      if (!key) return null;
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: record.iv as BufferSource }, key, record.data));
      } catch {
        return null; // a record we cannot open (key gone): worthless, leave it to clear()
      }
    });
  }

  /** Saves the document state (merged with what is stored). */
  save(state: Uint8Array): Promise<void> {
    return this._serial(async () => {
      const key = await this._getKey(true);
      if (!key) return;
      let merged = state;
      const existing = await request<DocRecord | undefined>(this._db.transaction(DOCS).objectStore(DOCS).get(this.scope));
      if (existing) {
        try {
          const old = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: existing.iv as BufferSource }, key, existing.data));
          merged = Y.mergeUpdates([old, state]);
        } catch {
          // unreadable old record: overwrite it
        }
      }
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, merged as BufferSource);
      const tx = this._db.transaction(DOCS, 'readwrite');
      tx.objectStore(DOCS).put({ scope: this.scope, iv, data, savedAt: Date.now() } satisfies DocRecord);
      await done(tx);
    });
  }

  /** Deletes the cached state and its key. */
  clear(): Promise<void> {
    return this._serial(async () => {
      const tx = this._db.transaction([DOCS, KEYS], 'readwrite');
      tx.objectStore(DOCS).delete(this.scope);
      tx.objectStore(KEYS).delete(this.scope);
      await done(tx);
      this._key = null;
    });
  }

  /** Whether a record exists (for tests and the UI). */
  has(): Promise<boolean> {
    return this._serial(async () => {
      const n = await request<number>(this._db.transaction(DOCS).objectStore(DOCS).count(this.scope));
      return n > 0;
    });
  }

  close(): void {
    void this._queue.finally(() => this._db.close());
  }

  private async _getKey(create: boolean): Promise<CryptoKey | null> {
    if (this._key) return this._key;
    const record = await request<KeyRecord | undefined>(this._db.transaction(KEYS).objectStore(KEYS).get(this.scope));
    if (record) return (this._key = record.key);
    if (!create) return null;
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const tx = this._db.transaction(KEYS, 'readwrite');
    tx.objectStore(KEYS).put({ scope: this.scope, key, createdAt: Date.now() } satisfies KeyRecord);
    await done(tx);
    return (this._key = key);
  }

  private async _purgeExpired(): Promise<void> {
    const cutoff = Date.now() - this._maxAgeMs;
    const tx = this._db.transaction([DOCS, KEYS], 'readwrite');
    const docs = tx.objectStore(DOCS);
    const keys = tx.objectStore(KEYS);
    const all = await request<DocRecord[]>(docs.getAll());
    for (const r of all) {
      if (r.savedAt < cutoff) {
        docs.delete(r.scope);
        keys.delete(r.scope);
      }
    }
    await done(tx);
  }

  private _serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this._queue.then(work, work);
    this._queue = next.catch(() => undefined);
    return next;
  }
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(DOCS)) db.createObjectStore(DOCS, { keyPath: 'scope' });
      if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS, { keyPath: 'scope' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('IndexedDB blocked'));
  });
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}
