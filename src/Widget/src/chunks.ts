// Code-split parts of the widget that only some pages need, loaded on first use from beside collab-sdk.js.
//
// The build (build.mjs) writes each chunk as collab-sdk.<name>.js and puts its version (the node's ETag,
// so the request is cached as immutable) and its SHA-384 into this bundle. A chunk is loaded with a
// <script integrity> element, so the browser refuses one that is not exactly the file this bundle was
// built with: pinning collab-sdk.js with SRI pins its chunks too. (A dynamic import() cannot carry an
// integrity value.) The chunk registers its exports under globalThis[CHUNK_GLOBAL][name].
import type { handover } from './chunks/handover';
import type { signalr } from './chunks/signalr';

export const CHUNK_GLOBAL = '__collabSdkChunks';

interface ChunkInfo {
  file: string;
  version: string;
  integrity: string;
}

interface Chunks {
  signalr: typeof signalr;
  handover: typeof handover;
}

declare const __COLLAB_CHUNKS__: Record<string, ChunkInfo>;

/** Where collab-sdk.js came from (read while it runs for the first time); chunks live beside it. */
const bundleUrl = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null)?.src || undefined : undefined;

const loading = new Map<string, Promise<unknown>>();

/** Loads a chunk once per page; `fallbackBase` (the gateway) is used when the bundle's own URL is unknown. */
export function loadChunk<K extends keyof Chunks>(name: K, fallbackBase?: string): Promise<Chunks[K]> {
  let promise = loading.get(name);
  if (!promise) {
    promise = load(name, fallbackBase);
    loading.set(name, promise);
    promise.catch(() => loading.delete(name)); // a failed load may be tried again
  }
  return promise as Promise<Chunks[K]>;
}

function load(name: string, fallbackBase: string | undefined): Promise<unknown> {
  const registry = () => (globalThis as unknown as Record<string, Record<string, unknown> | undefined>)[CHUNK_GLOBAL];
  const ready = registry()?.[name];
  if (ready) return Promise.resolve(ready);
  const info = typeof __COLLAB_CHUNKS__ !== 'undefined' ? __COLLAB_CHUNKS__[name] : undefined;
  if (!info) return Promise.reject(new Error(`The widget was built without its ${name} chunk.`));
  const base = bundleUrl ?? (fallbackBase ? fallbackBase.replace(/\/*$/, '/') : location.href);
  const src = new URL(`${info.file}?v=${info.version}`, base).href;
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.integrity = info.integrity;
    script.crossOrigin = 'anonymous';
    script.async = true;
    script.onload = () => {
      script.remove();
      const chunk = registry()?.[name];
      if (chunk) resolve(chunk);
      else reject(new Error(`${info.file} loaded but did not register itself.`));
    };
    script.onerror = () => {
      script.remove();
      reject(new Error(`${info.file} could not be loaded from ${src} (network, or its integrity did not match).`));
    };
    (document.head ?? document.documentElement).appendChild(script);
  });
}
