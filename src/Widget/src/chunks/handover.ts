// The chunk collab-sdk.handover.js: lock hand-over requests (issue 15 §1), loaded at init only by pages that
// ask for them (init option lockRequests), so the bundle every page loads does not carry them.
//
// A viewer asks the holder for the lock (lock:request, with an optional reason); the holder is told
// (lock:requested) and hands it over or declines (lock:request-answer); the outcome comes as lock:handed-over
// or lock:request-declined (docs/PROTOCOL.md "Lock hand-over requests"; records LockRequestView, LockHandedOver,
// LockRequestDeclined in docs/wire-types.d.ts, mirrored in provider/types.ts).
//
// Both dialogs live in the widget's shadow root, are role="alertdialog", keyboard-operable (native buttons;
// Escape = the first, cancelling, button) and labelled; the holder's prompt does not take focus (a holder
// who is typing is not interrupted) but is announced through an assertive live region.
import { CHUNK_GLOBAL } from '../chunks';
import type { ApiBroadcast, CollabProvider, LockHandedOver, LockRequestDeclined, LockRequestView } from '../provider/provider';
import type { CollabUI, HandoverPromptView } from '../ui';
import { hhmm } from '../util';

/** What the SDK instance lends the chunk. */
export interface HandoverHost {
  /** The current provider (a new one after a route change). */
  provider(): CollabProvider;
  ui(): CollabUI | null;
  refresh(): void;
  emit(name: string, args: unknown[]): void;
  /** Calls the hook for the current provider now and for every later one. */
  onProvider(hook: (p: CollabProvider) => void): void;
}

export class Handover {
  /** Our own request, while it waits for an answer. */
  myLockRequest: LockRequestView | null = null;
  /** Requests for our lock, oldest first (we are the holder). */
  lockRequests: LockRequestView[] = [];
  /** Requests the holder put off ("Later"): still pending, no longer prompted. */
  private readonly _later = new Set<string>();

  constructor(private readonly _host: HandoverHost) {
    _host.onProvider((p) => this._watch(p));
  }

  /** Asks the holder for the lock; without a reason, shows the form asking for one first. */
  async requestEdit(reason?: string): Promise<void> {
    const p = this._host.provider();
    const ui = this._host.ui();
    const holder = p.locks[0]?.holder.username ?? 'the holder';
    if (reason === undefined && ui) {
      showRequestForm(ui.wrap, holder, (text) => void this.requestEdit(text));
      return;
    }
    const text = reason?.trim().slice(0, 200);
    const r = await p.invoke<LockRequestView>('lock:request', { resourceId: p.resourceId, ...(text ? { reason: text } : {}) });
    if (p !== this._host.provider()) return; // moved to another resource meanwhile
    if (r.success && r.data) {
      this.myLockRequest = r.data;
      ui?.toast(`Request sent: ${holder} is asked to hand the lock over to you.`, 'info', 'lock');
      this._host.emit('lockRequestSent', [r.data]);
    } else {
      ui?.toast(`The request could not be sent (${r.error?.code ?? 'UNAVAILABLE'}).`, 'warn', 'lock');
    }
    this._host.refresh();
  }

  /** The holder's answer: hand the lock over (true) or decline (false). */
  async answer(lockRequestId: string, accept: boolean): Promise<void> {
    const p = this._host.provider();
    const r = await p.invoke('lock:request-answer', { resourceId: p.resourceId, lockRequestId, answer: accept ? 'hand-over' : 'decline' });
    if (r.success) this._drop(lockRequestId);
  }

  private _watch(p: CollabProvider): void {
    this.myLockRequest = null;
    this._setRequests([]);
    const current = (b: ApiBroadcast) => p === this._host.provider() && b.resourceId === p.resourceId;
    p.onHubEvent('lock:requested', (b: ApiBroadcast<LockRequestView>) => {
      if (!current(b) || !p.lock) return;
      this._setRequests(this.lockRequests.filter((q) => q.lockRequestId !== b.payload.lockRequestId).concat([b.payload]));
    });
    p.onHubEvent('lock:request-declined', (b: ApiBroadcast<LockRequestDeclined>) => {
      if (!current(b)) return;
      this._drop(b.payload.lockRequestId);
      if (this.myLockRequest?.lockRequestId !== b.payload.lockRequestId) return;
      this.myLockRequest = null;
      const who = b.payload.by?.username ?? p.locks[0]?.holder.username ?? 'The holder';
      const text = b.payload.expired ? 'Your edit request got no answer; the lock stays with its holder.'
        : b.payload.reason === 'declined' ? `${who} declined your edit request.`
        : b.payload.reason === 'lock_ended' ? 'The lock was released; your edit request is over.'
        : 'Your edit request ended.';
      this._host.ui()?.toast(text, 'warn', 'lock');
      this._host.emit('lockRequestDeclined', [b.payload]);
      this._host.refresh();
    });
    p.onHubEvent('lock:handed-over', (b: ApiBroadcast<LockHandedOver>) => {
      if (!current(b)) return;
      const h = b.payload;
      const mine = !!this.myLockRequest && this.myLockRequest.lockRequestId === h.lockRequestId;
      const wasMine = !!p.lock && (p.lock.lockId === h.previousLockId || p.lock.lockId === h.lock.lockId);
      if (mine) this.myLockRequest = null;
      p.adoptLock(h.lock, mine, h.previousLockId);
      if (wasMine) this._host.ui()?.toast(`You handed the editing lock to ${h.to.username}; the fields are read-only now.`, 'info', 'lock');
      this._host.emit('lockHandedOver', [h]);
      this._host.refresh();
    });
    p.on('lock', (lock) => {
      if (lock) this.myLockRequest = null; // holding the lock answers our own request
      else this._setRequests([]); // requests were for the lock we no longer hold
    });
    p.on('status', ({ status }: { status: string }) => {
      // The server forgets a connection's requests with it; a new join starts without any.
      if (status === 'disconnected') {
        this.myLockRequest = null;
        this._setRequests([]);
      }
    });
  }

  private _drop(lockRequestId: string): void {
    if (this.lockRequests.some((q) => q.lockRequestId === lockRequestId)) {
      this._setRequests(this.lockRequests.filter((q) => q.lockRequestId !== lockRequestId));
    }
  }

  private _setRequests(requests: LockRequestView[]): void {
    const changed = requests.length !== this.lockRequests.length || requests.some((q, i) => q !== this.lockRequests[i]);
    this.lockRequests = requests;
    if (!changed) return;
    const ui = this._host.ui();
    const first = requests.find((q) => !this._later.has(q.lockRequestId));
    if (first && ui) {
      const text = showHandoverPrompt(
        ui.wrap,
        { id: first.lockRequestId, requester: first.requester.username, reason: first.reason, autoPass: hhmm(first.autoPassAt) },
        (accept) => {
          if (accept === null) this._later.add(first.lockRequestId);
          else void this.answer(first.lockRequestId, accept);
        },
      );
      if (text) ui.announce(`${text} Hand over, decline or later: in the collaboration panel.`);
    } else {
      ui?.closeDialog('handover');
    }
    this._host.emit('lockRequests', [requests]);
    this._host.refresh();
  }
}

function attach(host: HandoverHost): Handover {
  return new Handover(host);
}

const CSS = `.dlg{position:fixed;right:16px;bottom:16px;width:300px;background:#fff;color:#0f172a;border:2px solid #2563eb;border-radius:12px;box-shadow:0 10px 30px rgba(15,23,42,.25);padding:12px;font-size:13px;display:flex;flex-direction:column;gap:8px;z-index:3}
.dlg h2{font-size:14px;margin:0}
.dlg p{margin:0;color:#334155}
.dlg input{all:unset;border:1px solid #94a3b8;border-radius:6px;padding:5px 7px;font-size:13px}
.dlg .acts{display:flex;gap:6px;justify-content:flex-end}
.dlg button{padding:5px 10px;border:1px solid #cbd5e1;font-size:13px}
.dlg button.primary{background:#2563eb;color:#fff;border-color:#2563eb}
.dlg button:focus-visible,.dlg input:focus-visible{outline:2px solid #2563eb;outline-offset:1px}`;

function open(wrap: HTMLElement, kind: string, title: string, text: string): HTMLElement {
  wrap.querySelector('.dlg')?.remove();
  const root = wrap.getRootNode() as ShadowRoot;
  if (!root.querySelector('style[data-handover]')) {
    const style = document.createElement('style');
    style.setAttribute('data-handover', '');
    style.textContent = CSS;
    root.appendChild(style);
  }
  const dlg = document.createElement('section');
  dlg.className = 'dlg';
  dlg.setAttribute('data-kind', kind);
  dlg.setAttribute('role', 'alertdialog');
  dlg.setAttribute('aria-modal', 'false');
  const id = `collab-dlg-${kind}`;
  dlg.setAttribute('aria-labelledby', `${id}-t`);
  dlg.setAttribute('aria-describedby', `${id}-d`);
  const h = document.createElement('h2');
  h.id = `${id}-t`;
  h.textContent = title;
  const p = document.createElement('p');
  p.id = `${id}-d`;
  p.textContent = text;
  const acts = document.createElement('div');
  acts.className = 'acts';
  dlg.append(h, p, acts);
  dlg.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') (dlg.querySelector('.acts button') as HTMLButtonElement).click();
  });
  wrap.appendChild(dlg);
  return dlg;
}

function actions(dlg: HTMLElement, buttons: [string, boolean, () => void][]): void {
  const acts = dlg.querySelector('.acts') as HTMLElement;
  for (const [label, primary, run] of buttons) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (primary) b.className = 'primary';
    b.addEventListener('click', () => {
      dlg.remove();
      run();
    });
    acts.appendChild(b);
  }
}

/** The requester's form: an optional reason, Send or Cancel (Enter sends). Takes focus: the user asked for it. */
function showRequestForm(wrap: HTMLElement, holder: string, send: (reason: string) => void): void {
  const dlg = open(wrap, 'request', `Ask ${holder} for the editing lock`, `${holder} is asked to hand the lock over to you. A short reason helps.`);
  const input = document.createElement('input');
  input.maxLength = 200;
  input.placeholder = 'Reason (optional)';
  input.setAttribute('aria-label', 'Reason (optional)');
  dlg.insertBefore(input, dlg.lastChild);
  actions(dlg, [
    ['Cancel', false, () => {}],
    ['Send request', true, () => send(input.value)],
  ]);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') (dlg.querySelector('button.primary') as HTMLButtonElement).click();
  });
  input.focus();
}

/**
 * The holder's prompt: who asks and why, Later / Decline / Hand over. It does not take focus, so a holder who
 * is typing is not interrupted; the caller announces the returned text. Null when this request is shown already.
 */
function showHandoverPrompt(wrap: HTMLElement, req: HandoverPromptView, answer: (accept: boolean | null) => void): string | null {
  if (wrap.querySelector(`.dlg[data-request="${req.id.replace(/["\\\\]/g, '')}"]`)) return null;
  const text = `${req.requester} asks for the editing lock${req.reason ? `: “${req.reason}”` : '.'}${req.autoPass ? ` It passes to them at ${req.autoPass} if you are idle.` : ''}`;
  const dlg = open(wrap, 'handover', 'Edit request', text);
  dlg.setAttribute('data-request', req.id);
  actions(dlg, [
    ['Later', false, () => answer(null)],
    ['Decline', false, () => answer(false)],
    ['Hand over', true, () => answer(true)],
  ]);
  return text;
}

export const handover = { attach };

const g = globalThis as unknown as Record<string, Record<string, unknown> | undefined>;
(g[CHUNK_GLOBAL] ??= {}).handover = handover;
