// The provider's options and the hub's wire shapes (docs/PROTOCOL.md) as the widget reads them.
import type * as awarenessProtocol from 'y-protocols/awareness';

export type JoinMode = 'editor' | 'viewer';

export type ProviderStatus = 'disconnected' | 'connecting' | 'connected';

export interface ProviderOptions {
  /** A JWT, or a function returning one (called on every (re)connect). */
  token?: string;
  tokenProvider?: () => string | Promise<string>;
  /** Requested mode: editor takes the lock when free (default editor). */
  mode?: JoinMode;
  /** Connect at once (default true, like y-websocket). */
  connect?: boolean;
  awareness?: awarenessProtocol.Awareness;
  /** Hub path on the gateway (default /hubs/collab). */
  hubPath?: string;
  /** 'websockets' (default: no negotiate round-trip, works cross-origin without CORS) or 'auto'. */
  transport?: 'websockets' | 'auto';
  /** Take the lock automatically when it becomes free while we wanted to edit (default true). */
  autoAcquire?: boolean;
  /** Backoff bounds for reconnecting, in ms. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** How long an invocation may take before the connection is considered dead (ms, default 15000). */
  invokeTimeout?: number;
}

export type ResolvedOptions = Required<Pick<ProviderOptions, 'hubPath' | 'transport' | 'autoAcquire' | 'minReconnectDelay' | 'maxReconnectDelay' | 'invokeTimeout'>> &
  ProviderOptions;

export interface Session {
  sessionId: string;
  userId: string;
  username: string;
  role: string;
  serverTime: string;
  nodeId: string;
  sessionTtlSeconds: number;
  heartbeatIntervalSeconds: number;
}

export interface PresenceUser {
  userId: string;
  username: string;
  role: string;
  mode: JoinMode;
  joinedAt: string;
  sessionId: string;
}

export interface LockView {
  lockId: string;
  resourceId: string;
  holder: { userId: string; username: string };
  acquiredAt: string;
  expiresAt: string;
  fencingToken: number;
  ttlSeconds: number;
}

export interface LockDenied {
  code: string;
  message: string;
  holder?: { userId: string; username: string } | null;
  expiresAt?: string | null;
}

export interface AllUsers {
  parentResourceId: string;
  totalCount: number;
  subResources: { subResourceId: string; users: PresenceUser[] }[];
}

/** Data of a successful resource:join. */
export interface JoinResult {
  resourceId: string;
  parentResourceId: string;
  mode: JoinMode;
  requestedMode: JoinMode;
  modeReason?: string | null;
  users?: PresenceUser[];
  revision?: number;
  lock?: LockView | null;
  lockDenied?: LockDenied | null;
  locks?: LockView[];
}

export interface ApiError {
  code: string;
  message: string;
  details?: any;
}

export interface ApiResponse<T = any> {
  success: boolean;
  requestId?: string;
  data?: T;
  error?: ApiError;
  newRevision?: number;
  timestamp: string;
}

export interface ApiBroadcast<T = any> {
  event: string;
  resourceId: string;
  payload: T;
  triggeredBy?: { userId: string; username: string; action: string } | null;
  newRevision: number;
  timestamp: string;
}

// ---- lock hand-over requests (issue 15 §1): the wire names are the issue's; the server side is not built yet,
// so the payload fields below are the widget's proposal (CollabProvider.requestLock and its events).

export interface LockParty {
  userId: string;
  username: string;
}

/** Data of lock:request's answer and payload of lock:requested (sent to the holder). */
export interface LockRequestView {
  lockRequestId: string;
  resourceId?: string;
  requester: LockParty;
  holder?: LockParty | null;
  /** The lock asked for. */
  lockId?: string;
  reason?: string | null;
  requestedAt?: string;
  /** When the lock passes by itself if the holder stays idle (null: never). */
  autoPassAt?: string | null;
}

/** Payload of lock:handed-over: the lock (a new fencing token) now belongs to `to`. */
export interface LockHandedOver {
  lockRequestId?: string | null;
  from: LockParty;
  to: LockParty;
  lock: LockView;
  /** The lock that ended, when the hand-over gave the new holder a new lock id. */
  previousLockId?: string | null;
  previousFencingToken?: number;
  automatic?: boolean;
}

/**
 * Payload of lock:request-declined (sent to the requester and the holder; `expired` when nobody answered in time).
 * `reason`: why it ended: declined, expired, requester_left, lock_ended, superseded.
 */
export interface LockRequestDeclined {
  lockRequestId: string;
  resourceId?: string;
  requester: LockParty;
  by?: LockParty | null;
  reason?: string | null;
  expired?: boolean;
}
