// Everything the widget draws. Two places, both scoped so the host page is not disturbed:
//  - the host page's fields get data-collab-* attributes, styled by one <style> whose selectors all
//    require them (outline and box-shadow only: no layout shift);
//  - the panel, badges, avatars and toasts live in one shadow root ([data-collab-sdk-root]), so neither
//    the page's CSS reaches them nor theirs the page.
import { ROOT_ATTRIBUTE } from './discovery';
import { colorFor, initials } from './util';

export type FieldState = 'editable' | 'own-lock' | 'locked' | 'readonly' | 'offline' | 'connecting';

export interface PanelUser {
  userId: string;
  username: string;
  role: string;
  mode: string;
  where?: string;
  me?: boolean;
}

export interface FieldView {
  id: string;
  el: HTMLElement;
  state: FieldState;
  badge: { text: string; kind: 'collab' | 'mine' | 'locked' | 'offline' | 'readonly'; title: string; action?: 'request' | 'requested' };
}

/** A request for our lock, as the holder's prompt shows it. */
export interface HandoverPromptView {
  id: string;
  requester: string;
  reason?: string | null;
  autoPass?: string;
}

export interface AvatarView {
  userId: string;
  name: string;
  role: string;
  color: string;
}

// Icons are inline SVG masks (emoji fonts are missing on many clinical workstations and kiosks).
const svg = (path: string) => `url("data:image/svg+xml,${encodeURIComponent(`<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'><path d='${path}'/></svg>`)}")`;
const ICONS: Record<string, string> = {
  lock: svg('M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z'),
  unlock: svg('M7 10V7a5 5 0 0 1 9.6-2l-1.8.9A3 3 0 0 0 9 7v3h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1h1z'),
  sync: svg('M7 7h10l-3-3 1.4-1.4L21 8l-5.6 5.4L14 12l3-3H7zM17 17H7l3 3-1.4 1.4L3 16l5.6-5.4L10 12l-3 3h10z'),
  eye: svg('M12 5c5 0 9 4.5 10 7-1 2.5-5 7-10 7S3 14.5 2 12c1-2.5 5-7 10-7zm0 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8z'),
  bolt: svg('M13 2 3 14h7l-1 8 10-12h-7z'),
  users: svg('M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm7 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM1 20c0-3.3 3.6-6 8-6s8 2.7 8 6v1H1zm17 1v-1c0-1.7-.7-3.2-1.9-4.4 3.4.2 6.9 1.8 6.9 4.4v1z'),
};
const ICON_CSS = Object.entries(ICONS)
  .map(([name, url]) => `.i-${name}{-webkit-mask-image:${url};mask-image:${url}}`)
  .join('');
const BADGE_ICON: Record<FieldView['badge']['kind'], string> = { collab: 'sync', mine: 'lock', locked: 'lock', offline: 'bolt', readonly: 'eye' };

const FIELD_CSS = `
[data-collab-field]{transition:outline-color .2s,box-shadow .2s,background-color .4s}
[data-collab-field][data-collab-state]{outline-style:solid!important;outline-width:2px!important;outline-offset:0!important}
[data-collab-field][data-collab-state="editable"],[data-collab-field][data-collab-state="own-lock"]{outline-color:#16a34a!important;box-shadow:0 0 0 3px rgba(22,163,74,.15),0 0 8px rgba(22,163,74,.35)!important}
[data-collab-field][data-collab-state="locked"]{outline-color:#dc2626!important;box-shadow:0 0 0 3px rgba(220,38,38,.12)!important;cursor:not-allowed!important;background-color:#fef2f2!important}
[data-collab-field][data-collab-state="readonly"]{outline-color:#94a3b8!important;cursor:default!important}
[data-collab-field][data-collab-state="offline"]{outline-color:#f97316!important;box-shadow:0 0 0 3px rgba(249,115,22,.18),0 0 8px rgba(249,115,22,.3)!important}
[data-collab-field][data-collab-state="connecting"]{outline-color:#cbd5e1!important;outline-style:dashed!important}
[data-collab-field][data-collab-flash]{box-shadow:0 0 0 4px rgba(34,197,94,.55),0 0 16px rgba(34,197,94,.8)!important;background-color:#dcfce7!important}
`;

const SHADOW_CSS = `
:host{all:initial}
.i{display:inline-block;width:1.05em;height:1.05em;flex:none;background:currentColor;-webkit-mask-size:contain;mask-size:contain;-webkit-mask-repeat:no-repeat;mask-repeat:no-repeat;-webkit-mask-position:center;mask-position:center;vertical-align:-2px}
*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.layer{position:absolute;left:0;top:0;width:0;height:0;pointer-events:none}
.badge{position:absolute;pointer-events:auto;display:flex;align-items:center;gap:3px;height:18px;padding:0 6px;border-radius:9px;font-size:10.5px;line-height:18px;font-weight:600;white-space:nowrap;color:#fff;box-shadow:0 1px 3px rgba(0,0,0,.25);cursor:help;transform:translate(-100%,-50%)}
.badge.collab{background:#16a34a}
.badge.mine{background:#facc15;color:#422006}
.badge.locked{background:#dc2626}
.badge.offline{background:#f97316}
.badge.readonly{background:#64748b}
.tip{display:none;position:absolute;right:0;top:22px;max-width:260px;white-space:normal;background:#0f172a;color:#f8fafc;font-weight:400;font-size:12px;line-height:1.35;padding:6px 8px;border-radius:6px;z-index:2}
.badge:hover .tip,.avatar:hover .tip{display:block}
.avatars{position:absolute;display:flex;gap:2px;pointer-events:auto;transform:translateY(-50%)}
.avatar{position:relative;width:22px;height:22px;border-radius:50%;color:#fff;font-size:10px;font-weight:700;display:flex;align-items:center;justify-content:center;border:2px solid #fff;box-shadow:0 1px 3px rgba(0,0,0,.3);cursor:default}
.avatar .tip{left:0;right:auto;white-space:nowrap}
.panel{position:fixed;right:16px;bottom:16px;width:280px;background:#fff;color:#0f172a;border:1px solid #e2e8f0;border-radius:12px;box-shadow:0 10px 30px rgba(15,23,42,.18);font-size:13px;overflow:hidden}
.panel header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:#f8fafc;border-bottom:1px solid #e2e8f0;font-weight:600}
.dot{width:10px;height:10px;border-radius:50%;background:#94a3b8;flex:none}
.dot.connected{background:#16a34a;box-shadow:0 0 0 3px rgba(22,163,74,.2)}
.dot.connecting,.dot.syncing{background:#eab308}
.dot.offline{background:#f97316}
.dot.error{background:#dc2626}
.status{flex:1;font-weight:600}
.sub{color:#64748b;font-weight:400;font-size:12px}
button{all:unset;cursor:pointer;padding:2px 6px;border-radius:6px;color:#475569;font-size:14px;line-height:1}
button:hover{background:#e2e8f0}
.body{padding:10px 12px;display:flex;flex-direction:column;gap:8px}
.row{display:flex;justify-content:space-between;color:#475569}
.users{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px;max-height:180px;overflow:auto}
.users li{display:flex;align-items:center;gap:8px}
.users .avatar{width:26px;height:26px;font-size:11px;border:none;box-shadow:none;flex:none}
.uname{font-weight:600}
.umeta{color:#64748b;font-size:11.5px}
.tag{margin-left:auto;font-size:10.5px;padding:1px 6px;border-radius:8px;background:#e2e8f0;color:#334155}
.tag.editor{background:#dcfce7;color:#166534}
.lock{padding:6px 8px;border-radius:8px;font-size:12px;background:#f1f5f9}
.lock.mine{background:#fef9c3;color:#713f12}
.lock.other{background:#fee2e2;color:#991b1b}
.fab{position:fixed;right:16px;bottom:16px;width:48px;height:48px;border-radius:50%;background:#16a34a;color:#fff;display:none;align-items:center;justify-content:center;font-size:20px;box-shadow:0 6px 20px rgba(15,23,42,.3);cursor:pointer}
.fab .count{position:absolute;top:-4px;right:-4px;background:#0f172a;color:#fff;border-radius:9px;font-size:11px;min-width:18px;height:18px;display:flex;align-items:center;justify-content:center;padding:0 4px}
.fab .fdot{position:absolute;bottom:2px;right:2px;width:12px;height:12px;border:2px solid #fff}
.min .panel{display:none}
.min .fab{display:flex}
.toasts{position:fixed;top:16px;right:16px;display:flex;flex-direction:column;gap:8px;max-width:360px}
.toast{background:#0f172a;color:#f8fafc;padding:10px 12px;border-radius:8px;font-size:13px;box-shadow:0 6px 20px rgba(15,23,42,.3);border-left:4px solid #16a34a}
.toast.warn{border-left-color:#f97316}
.toast.error{border-left-color:#dc2626}
.req{margin-left:4px;padding:0 6px;height:14px;line-height:14px;border-radius:7px;background:#fff;color:#991b1b;font-size:10px;font-weight:700}
.req:focus-visible{outline:2px solid #2563eb;outline-offset:1px}
.lock.requested{background:#e0e7ff;color:#3730a3}
.lock.asked{background:#fef3c7;color:#92400e}
.notice{position:absolute;display:flex;align-items:center;gap:6px;max-width:320px;padding:5px 6px 5px 10px;border-radius:8px;background:#1e3a8a;color:#fff;font-size:12.5px;box-shadow:0 4px 14px rgba(15,23,42,.3);pointer-events:auto;transform:translateY(-100%)}
.notice.fixed{position:fixed;top:16px;left:50%;transform:translateX(-50%)}
.notice button{color:#fff;font-size:15px}
.notice button:hover,.notice button:focus-visible{background:rgba(255,255,255,.2)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
`;

export class CollabUI {
  readonly host: HTMLElement;
  private readonly _shadow: ShadowRoot;
  // (icons: see ICONS)
  private readonly _wrap: HTMLElement;
  private readonly _layer: HTMLElement;
  private readonly _style: HTMLStyleElement;
  private readonly _els: Record<string, HTMLElement> = {};
  private readonly _flashTimers = new Map<HTMLElement, ReturnType<typeof setTimeout>>();
  /** Called when a locked field's "Request edit" is used (set by the SDK). */
  onRequestEdit: (() => void) | null = null;

  constructor(showPanel = true) {
    const doc = document;
    this._style = doc.createElement('style');
    this._style.setAttribute('data-collab-sdk-styles', '');
    this._style.textContent = FIELD_CSS;
    (doc.head ?? doc.documentElement).appendChild(this._style);

    this.host = doc.createElement('div');
    this.host.setAttribute(ROOT_ATTRIBUTE, '');
    this.host.style.cssText = 'position:absolute;left:0;top:0;width:0;height:0;z-index:2147483000;';
    this._shadow = this.host.attachShadow({ mode: 'open' });
    this._shadow.innerHTML = `<style>${SHADOW_CSS}${ICON_CSS}</style>
<div class="wrap">
  <div class="layer"></div>
  <section class="panel" part="panel" role="status" aria-live="polite">
    <header><span class="dot"></span><span class="status">Connecting…</span><span class="sub sync"></span><button class="minimise" title="Minimise" aria-label="Minimise">–</button></header>
    <div class="body">
      <div class="row"><span>Users online</span><strong class="user-count">0</strong></div>
      <ul class="users"></ul>
      <div class="row"><span>Collaborative fields</span><strong class="field-count">0</strong></div>
      <div class="lock">—</div>
    </div>
  </section>
  <div class="fab" title="Collaboration: open the panel" role="button" aria-label="Open the collaboration panel"><span class="i i-users" style="width:24px;height:24px"></span><span class="count">0</span><span class="dot fdot"></span></div>
  <div class="toasts"></div>
  <div class="sr announce" aria-live="assertive" role="status"></div>
</div>`;
    this._wrap = this._shadow.querySelector('.wrap') as HTMLElement;
    this._layer = this._shadow.querySelector('.layer') as HTMLElement;
    for (const name of ['dot', 'status', 'sync', 'user-count', 'users', 'field-count', 'lock', 'fab', 'toasts', 'panel', 'announce']) {
      this._els[name] = this._shadow.querySelector('.' + name) as HTMLElement;
    }
    this._els.fdot = this._shadow.querySelector('.fdot') as HTMLElement;
    this._els.count = this._shadow.querySelector('.fab .count') as HTMLElement;
    (this._shadow.querySelector('.minimise') as HTMLElement).addEventListener('click', () => this.minimise(true));
    this._els.fab.addEventListener('click', () => this.minimise(false));
    if (!showPanel) this._els.panel.style.display = 'none';
    (doc.body ?? doc.documentElement).appendChild(this.host);
  }

  get shadow(): ShadowRoot {
    return this._shadow;
  }

  minimise(on: boolean): void {
    this._wrap.classList.toggle('min', on);
  }

  setStatus(kind: 'connecting' | 'connected' | 'syncing' | 'offline' | 'error', text: string, sub = ''): void {
    for (const dot of [this._els.dot, this._els.fdot]) dot.className = `dot ${kind}${dot === this._els.fdot ? ' fdot' : ''}`;
    this._els.status.textContent = text;
    this._els.sync.textContent = sub;
    this._els.panel.setAttribute('data-status', kind);
  }

  setUsers(users: PanelUser[]): void {
    const distinct = new Set(users.map((u) => u.userId));
    this._els['user-count'].textContent = String(distinct.size);
    this._els.count.textContent = String(distinct.size);
    const list = this._els.users;
    list.textContent = '';
    for (const u of users) {
      const li = document.createElement('li');
      li.setAttribute('data-user', u.userId);
      const av = document.createElement('span');
      av.className = 'avatar';
      av.style.background = colorFor(u.userId);
      av.textContent = initials(u.username);
      const text = document.createElement('span');
      const name = document.createElement('div');
      name.className = 'uname';
      name.textContent = u.username + (u.me ? ' (you)' : '');
      const meta = document.createElement('div');
      meta.className = 'umeta';
      meta.textContent = u.role + (u.where ? ` · ${u.where}` : '');
      text.append(name, meta);
      const tag = document.createElement('span');
      tag.className = `tag ${u.mode}`;
      tag.textContent = u.mode;
      li.append(av, text, tag);
      list.appendChild(li);
    }
  }

  setFieldCount(n: number): void {
    this._els['field-count'].textContent = String(n);
  }

  setLock(kind: 'mine' | 'other' | 'none' | 'requested' | 'asked', text: string): void {
    this._els.lock.className = `lock ${kind}`;
    this._els.lock.textContent = '';
    if (kind !== 'none') this._els.lock.append(icon('lock'), ' ');
    this._els.lock.append(text);
  }

  /** Tells screen readers at once (the panel itself is a polite live region). */
  announce(text: string): void {
    this._els.announce.textContent = '';
    setTimeout(() => (this._els.announce.textContent = text), 30);
  }

  /** The shadow root's wrapper: where the hand-over chunk puts its dialogs (chunks/handover.ts). */
  get wrap(): HTMLElement {
    return this._wrap;
  }

  closeDialog(kind?: string): void {
    const dialog = this._wrap.querySelector('.dlg');
    if (dialog && (!kind || dialog.getAttribute('data-kind') === kind)) dialog.remove();
  }


  toast(message: string, kind: 'info' | 'warn' | 'error' = 'info', iconName?: keyof typeof ICONS, ms = 6000): void {
    const t = document.createElement('div');
    t.className = `toast ${kind}`;
    t.setAttribute('role', 'alert');
    if (iconName) t.append(icon(iconName), ' ');
    t.append(message);
    this._els.toasts.appendChild(t);
    setTimeout(() => t.remove(), ms);
  }

  /**
   * A small notice above `anchor` (or at the top of the window without one): text only, dismissed by its button
   * or Escape, gone by itself after `ms`. One at a time: a newer one replaces it.
   */
  notice(text: string, anchor: HTMLElement | null, ms = 10000): HTMLElement {
    this._wrap.querySelector('.notice')?.remove();
    const n = document.createElement('div');
    n.className = anchor ? 'notice' : 'notice fixed';
    n.setAttribute('role', 'status');
    n.setAttribute('aria-live', 'polite');
    const label = document.createElement('span');
    label.textContent = text;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Dismiss');
    const timer = setTimeout(() => n.remove(), ms);
    const dismiss = () => {
      clearTimeout(timer);
      n.remove();
    };
    close.addEventListener('click', dismiss);
    n.addEventListener('keydown', (e) => e.key === 'Escape' && dismiss());
    n.append(label, close);
    if (anchor) {
      const r = anchor.getBoundingClientRect();
      n.style.left = `${r.left + window.scrollX}px`;
      n.style.top = `${r.top + window.scrollY - 4}px`;
    }
    this._wrap.appendChild(n);
    return n;
  }

  flash(el: HTMLElement): void {
    el.setAttribute('data-collab-flash', '');
    clearTimeout(this._flashTimers.get(el));
    this._flashTimers.set(
      el,
      setTimeout(() => {
        el.removeAttribute('data-collab-flash');
        this._flashTimers.delete(el);
      }, 700),
    );
  }

  /** Places badges and avatars next to their fields (document coordinates). */
  layout(fields: FieldView[], avatars: Map<string, AvatarView[]>): void {
    const layer = this._layer;
    const keep = new Set<Element>();
    const sx = window.scrollX;
    const sy = window.scrollY;
    for (const f of fields) {
      const rects = f.el.getClientRects();
      f.el.setAttribute('data-collab-state', f.state);
      if (rects.length === 0) continue; // not rendered (e.g. in a hidden tab)
      const r = f.el.getBoundingClientRect();
      let badge = layer.querySelector(`.badge[data-for="${cssEscape(f.id)}"]`) as HTMLElement | null;
      if (!badge) {
        badge = document.createElement('div');
        badge.setAttribute('data-for', f.id);
        badge.innerHTML = '<span class="i"></span><span class="btext"></span><button class="req" type="button" hidden></button><span class="tip"></span>';
        (badge.children[2] as HTMLElement).addEventListener('click', () => this.onRequestEdit?.());
        layer.appendChild(badge);
      }
      badge.className = `badge ${f.badge.kind}`;
      (badge.firstChild as HTMLElement).className = `i i-${BADGE_ICON[f.badge.kind]}`;
      (badge.children[1] as HTMLElement).textContent = f.badge.text;
      const req = badge.children[2] as HTMLButtonElement;
      req.hidden = !f.badge.action;
      req.disabled = f.badge.action === 'requested';
      req.textContent = f.badge.action === 'requested' ? 'Requested' : 'Request edit';
      (badge.lastChild as HTMLElement).textContent = f.badge.title;
      badge.setAttribute('aria-label', f.badge.title);
      badge.style.left = `${r.right + sx - 4}px`;
      badge.style.top = `${r.top + sy}px`;
      keep.add(badge);

      const people = avatars.get(f.id) ?? [];
      if (people.length > 0) {
        let box = layer.querySelector(`.avatars[data-for="${cssEscape(f.id)}"]`) as HTMLElement | null;
        if (!box) {
          box = document.createElement('div');
          box.className = 'avatars';
          box.setAttribute('data-for', f.id);
          layer.appendChild(box);
        }
        box.textContent = '';
        for (const p of people) {
          const a = document.createElement('span');
          a.className = 'avatar';
          a.setAttribute('data-user', p.userId);
          a.style.background = /^#[0-9a-fA-F]{6}$/.test(p.color) ? p.color : colorFor(p.userId);
          a.textContent = initials(p.name);
          const tip = document.createElement('span');
          tip.className = 'tip';
          tip.textContent = `${p.name} (${p.role})`;
          a.appendChild(tip);
          a.setAttribute('aria-label', `${p.name} (${p.role}) is here`);
          box.appendChild(a);
        }
        box.style.left = `${r.right + sx + 6}px`;
        box.style.top = `${r.top + sy + r.height / 2}px`;
        keep.add(box);
      }
    }
    for (const child of Array.from(layer.children)) {
      if (!keep.has(child)) child.remove();
    }
  }

  clearField(el: HTMLElement): void {
    el.removeAttribute('data-collab-state');
    el.removeAttribute('data-collab-field');
    el.removeAttribute('data-collab-flash');
  }

  destroy(): void {
    for (const t of this._flashTimers.values()) clearTimeout(t);
    this.host.remove();
    this._style.remove();
  }
}

function icon(name: keyof typeof ICONS): HTMLElement {
  const el = document.createElement('span');
  el.className = `i i-${name}`;
  el.setAttribute('aria-hidden', 'true');
  return el;
}

function cssEscape(s: string): string {
  return typeof CSS !== 'undefined' && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
}
