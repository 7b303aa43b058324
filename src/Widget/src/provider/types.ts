// The provider's options and the hub's wire shapes as the widget reads them.
//
// The wire shapes are not written here: they are the declarations generated from the C# message records
// (docs/wire-types.d.ts as `@collab/wire-types`, `CollabAkka.Node.dll wire-docs docs`; WireDocumentTests fails when that file is stale),
// imported as types only (esbuild erases them, nothing reaches the bundle). Where the widget reads a field
// narrower than the record declares it (a mode as 'editor' | 'viewer'), Narrow<> only accepts a field that
// exists in the record with a type assignable to the record's, so a renamed or retyped field fails tsc
// (tests/browser/typecheck.test.mjs) instead of drifting.
import type * as awarenessProtocol from 'y-protocols/awareness';
import type * as Wire from '@collab/wire-types'; // docs/wire-types.d.ts (tsconfig paths)

export type JoinMode = 'editor' | 'viewer';

export type ProviderStatus = 'disconnected' | 'connecting' | 'connected';

export interface ProviderOptions {
  /** A JWT (fixed; when it expires the server closes the connection and the widget cannot come back). */
  token?: string;
  /**
   * Returns a current JWT. Called for the first connection, on every reconnect, and shortly before the
   * current token expires (then the widget moves to a new connection at once); unsent edits are kept and
   * re-sent after the resync.
   */
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

/** `T` with field `K` (which must exist in `T`) narrowed to `V` (which must be assignable to `T[K]`); optional stays optional. */
type Narrow<T, K extends keyof T, V extends T[K]> = { [P in keyof T]: P extends K ? V : T[P] };

export type ErrorCode = Wire.ErrorCode;

/** The `connected` event: who the server says we are. */
export type Session = Wire.ConnectedEvent;

export type PresenceUser = Narrow<Wire.PresenceUser, 'mode', JoinMode>;

export type LockParty = Wire.LockHolder;

export type LockView = Wire.LockView;

export type LockDenied = Wire.LockDenied;

export type AllUsers = Narrow<Wire.AllUsersPayload, 'subResources', (Narrow<Wire.SubResourceUsers, 'users', PresenceUser[]>)[]>;

/** Data of a successful resource:join. */
export type JoinResult = Narrow<Narrow<Narrow<Wire.JoinResult, 'mode', JoinMode>, 'requestedMode', JoinMode>, 'users', PresenceUser[]>;

export type DocSyncResult = Wire.DocSyncResult;

export type DocUpdatePayload = Wire.DocUpdatePayload;

export type UserPresencePayload = Narrow<Wire.UserPresencePayload, 'user', PresenceUser>;

export type LockEndedPayload = Wire.LockEndedPayload;

/** Payload of resource:updated (an external system's webhook, docs/INTEGRATION.md). */
export type ResourceUpdatedPayload = Wire.ResourceUpdatedPayload;

export type TriggeredBy = Wire.TriggeredBy;

/** `details` depends on the code (LOCK_HELD: holder, expiresAt; RATE_LIMITED: retryAfterMs). */
export type ApiError = Narrow<Wire.ApiError, 'details', any>;

export type ApiResponse<T = any> = Narrow<Narrow<Wire.ApiResponse, 'data', T | undefined>, 'error', ApiError | undefined>;

export type ApiBroadcast<T = any> = Wire.ApiBroadcast<T>;

/** Hub methods and events by name, with their request, result and payload types. */
export type HubMethod = Wire.CollabMethodName;
export type HubEvent = Wire.CollabEventName;
export type HubEventBody<E extends HubEvent> = Wire.CollabEvents[E];

// ---- lock hand-over requests (issue 15 §1): the widget's chunk (chunks/handover.ts) reads these records.

/** Data of lock:request's answer and payload of lock:requested (sent to the holder). */
export type LockRequestView = Wire.LockRequestView;

/** Payload of lock:handed-over: the lock (a new fencing token) now belongs to `to`. */
export type LockHandedOver = Wire.LockHandedOver;

/**
 * Payload of lock:request-declined (sent to the requester and the holder; `expired` when nobody answered in time).
 * `reason`: why it ended: declined, expired, requester_left, lock_ended, superseded.
 */
export type LockRequestDeclined = Wire.LockRequestDeclined;
