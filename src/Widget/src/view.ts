// What the widget shows, derived from the provider's state: the fields' state and badge, the panel's
// status and lock lines, its member list, and who is focused on which field.
import type * as awarenessProtocol from 'y-protocols/awareness';
import type { FieldBinding } from './binding';
import type { CollabProvider, PresenceUser } from './provider/provider';
import type { AvatarView, FieldState, FieldView, PanelUser } from './ui';
import { colorFor, hhmm } from './util';

export type InstanceStatus = 'connecting' | 'syncing' | 'connected' | 'offline' | 'denied' | 'destroyed';

/** The hand-over requests' state, when their chunk is on (init option lockRequests). */
export interface HandoverView {
  myLockRequest: { lockRequestId: string } | null;
  lockRequests: { requester: { username: string } }[];
}

/** With `handover` (lock requests on), a locked field offers "Request edit". */
export function fieldState(p: CollabProvider, offline: boolean, editable: boolean, handover: HandoverView | null = null): { state: FieldState; badge: FieldView['badge'] } {
  if (offline) {
    return {
      state: 'offline',
      badge: {
        kind: 'offline',
        text: 'Offline',
        title: editable
          ? 'Offline: keep typing. Your edits are kept (encrypted) on this device and merged when the connection returns.'
          : 'Offline: read-only until the connection returns.',
      },
    };
  }
  if (!p.wsconnected || !p.synced) {
    return { state: 'connecting', badge: { kind: 'readonly', text: '…', title: 'Connecting to the collaboration server…' } };
  }
  if (p.mode === 'editor') {
    const until = hhmm(p.lock?.expiresAt);
    return {
      state: 'own-lock',
      badge: {
        kind: 'mine',
        text: `You${until ? ` · until ${until}` : ''}`,
        title: `Collaborative field. You hold the editing lock${until ? ` until ${until}` : ''} (renewed while this tab is open); others see your changes live.`,
      },
    };
  }
  const other = p.locks.find((l) => l.holder.userId !== p.session?.userId) ?? p.locks[0];
  if (other) {
    const until = hhmm(other.expiresAt);
    return {
      state: 'locked',
      badge: {
        kind: 'locked',
        text: `${other.holder.username}${until ? ` · until ${until}` : ''}`,
        title: `Locked by ${other.holder.username}${until ? ` until ${until}` : ''}. You see their changes live; the field unlocks when they finish.`,
        ...(handover && p.mayLock && p.requestedMode === 'editor' ? { action: handover.myLockRequest ? ('requested' as const) : ('request' as const) } : {}),
      },
    };
  }
  return {
    state: 'readonly',
    badge: { kind: 'readonly', text: 'View only', title: p.modeReason ?? 'You are viewing this record.' },
  };
}

export function statusOf(p: CollabProvider, offline: boolean): InstanceStatus {
  // Refused for good (access removed, or never given): not coming back by itself.
  if (!p.shouldConnect && p.lastError?.code === 'PERMISSION_DENIED') return 'denied';
  if (offline) return 'offline';
  if (p.wsconnected && p.synced) return 'connected';
  return p.wsconnected ? 'syncing' : 'connecting';
}

export function statusLine(status: InstanceStatus, unsent: boolean, everJoined: boolean): ['connecting' | 'connected' | 'syncing' | 'offline', string, string] {
  switch (status) {
    case 'offline':
      return ['offline', 'Offline', unsent ? 'edits kept on this device' : 'reconnecting…'];
    case 'connected':
      return ['connected', 'Connected', unsent ? 'Saving…' : 'Synced'];
    case 'denied':
      return ['offline', 'No access', 'not saved'];
    case 'syncing':
      return ['syncing', 'Connected', 'Syncing…'];
    default:
      return ['connecting', everJoined ? 'Reconnecting…' : 'Connecting…', ''];
  }
}

export function lockLine(p: CollabProvider, handover: HandoverView | null = null): ['mine' | 'other' | 'none' | 'requested' | 'asked', string] {
  if (p.lock && handover?.lockRequests.length) {
    return ['asked', `${handover.lockRequests[0].requester.username} asks for the lock · you are editing until ${hhmm(p.lock.expiresAt)}`];
  }
  if (p.lock) return ['mine', `You are editing · lock until ${hhmm(p.lock.expiresAt)}`];
  const other = p.locks[0];
  if (handover?.myLockRequest) return ['requested', `You asked ${other?.holder.username ?? 'the holder'} for the lock · waiting for an answer`];
  if (other) return ['other', `Locked by ${other.holder.username} until ${hhmm(other.expiresAt)}`];
  return ['none', p.wsconnected ? p.modeReason ?? 'No one is editing.' : '—'];
}

/** Everyone in the resource and its family (one row per session), ourselves first. */
export function panelUsers(p: CollabProvider, resourceId: string): PanelUser[] {
  const me = p.session?.sessionId;
  const list: PanelUser[] = [];
  const seen = new Set<string>();
  const add = (u: PresenceUser, where?: string) => {
    if (seen.has(u.sessionId)) return;
    seen.add(u.sessionId);
    list.push({ userId: u.userId, username: u.username, role: u.role, mode: u.mode, where, me: u.sessionId === me });
  };
  for (const u of p.users) add(u);
  for (const group of p.allUsers?.subResources ?? []) {
    const where = group.subResourceId === resourceId ? undefined : group.subResourceId.split('/').pop();
    for (const u of group.users) add(u, where);
  }
  return list.sort((a, b) => Number(!!b.me) - Number(!!a.me));
}

/** Avatars: remote awareness states focused on a field, one per user and field. */
export function focusAvatars(awareness: awarenessProtocol.Awareness, ownClientId: number, fields: Map<string, FieldBinding>,
  present: Map<string, PresenceUser>, sessions: Map<number, string> = new Map(), bySession: Map<string, PresenceUser> = new Map()): Map<string, AvatarView[]> {
  // Awareness is what peers say about themselves: the user is the session the server named for that client id
  // (else the claimed id), names and roles come from server presence (the token), a user absent from presence
  // is not shown, and only a #rrggbb colour is used (anything else could be CSS).
  const avatars = new Map<string, AvatarView[]>();
  const seen = new Set<string>();
  awareness.getStates().forEach((state, clientId) => {
    if (clientId === ownClientId) return;
    const focus = state?.focus as string | undefined;
    const user = state?.user as { id?: unknown; color?: unknown } | undefined;
    const session = sessions.get(clientId);
    const known = session ? bySession.get(session) : typeof user?.id === 'string' ? present.get(user.id) : undefined;
    if (typeof focus !== 'string' || !known || !fields.has(focus)) return;
    const key = `${known.userId}|${focus}`;
    if (seen.has(key)) return;
    seen.add(key);
    const list = avatars.get(focus) ?? [];
    const color = typeof user?.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(user.color) ? user.color : colorFor(known.userId);
    list.push({ userId: known.userId, name: known.username, role: known.role, color });
    avatars.set(focus, list);
  });
  return avatars;
}
