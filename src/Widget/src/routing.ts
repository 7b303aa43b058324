// Single-page apps change their URL without reloading: history.pushState/replaceState (patched once per
// page to announce themselves), back/forward (popstate) and hash routes (hashchange).

/** Fired on window whenever history.pushState/replaceState ran. */
const LOCATION_CHANGE = 'collab-sdk:locationchange';

function patchHistory(): void {
  const h = history as History & { __collabSdkPatched?: boolean };
  if (h.__collabSdkPatched) return;
  h.__collabSdkPatched = true;
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = h[method];
    h[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      window.dispatchEvent(new Event(LOCATION_CHANGE));
      return result;
    };
  }
}

/** Calls `changed` after every in-page navigation; returns the function that stops it. */
export function watchLocation(changed: () => void): () => void {
  patchHistory();
  const events = [LOCATION_CHANGE, 'popstate', 'hashchange'];
  for (const e of events) window.addEventListener(e, changed);
  return () => {
    for (const e of events) window.removeEventListener(e, changed);
  };
}
