// Generated from the C# message records by `dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll wire-docs docs` — do not edit.
// The widget's wire types are checked against this file (tests: WireDocumentTests).

export type ErrorCode =
  | 'UNAUTHORIZED'
  | 'PERMISSION_DENIED'
  | 'VALIDATION_FAILED'
  | 'NOT_JOINED'
  | 'ALREADY_JOINED'
  | 'LOCK_HELD'
  | 'LOCK_NOT_HELD'
  | 'MAX_EDITORS_REACHED'
  | 'MAX_VIEWERS_REACHED'
  | 'MAX_CONNECTIONS_REACHED'
  | 'STALE_REVISION'
  | 'INVALID_UPDATE'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INVALID_STATE_TRANSITION'
  | 'UNAVAILABLE'
  | 'NOT_FOUND'
  | 'INTERNAL_ERROR';

export interface AcquireLockRequest {
  resourceId?: string | null;
  requestId?: string | null;
  ttlSeconds?: number | null;
}

export interface AllUsersPayload {
  parentResourceId: string;
  totalCount: number;
  subResources: SubResourceUsers[];
}

export interface ApiBroadcast<TPayload = unknown> {
  event: string;
  resourceId: string;
  payload: TPayload;
  triggeredBy?: TriggeredBy | null;
  newRevision: number;
  timestamp: string;
}

export interface ApiError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export interface ApiResponse {
  success: boolean;
  requestId?: string | null;
  data?: unknown;
  error?: ApiError;
  newRevision?: number;
  timestamp: string;
}

export interface AwarenessRequest {
  resourceId?: string | null;
  requestId?: string | null;
  update?: string | null;
}

export interface ConnectedEvent {
  sessionId: string;
  userId: string;
  username: string;
  role: string;
  serverTime: string;
  nodeId: string;
  sessionTtlSeconds: number;
  heartbeatIntervalSeconds: number;
}

export interface ConnectionClosingEvent {
  reason: string;
  reconnectAfterMs: number;
}

export interface DocSyncRequest {
  resourceId?: string | null;
  requestId?: string | null;
  stateVector?: string | null;
}

export interface DocSyncResult {
  resourceId: string;
  update: string;
  stateVector: string;
  revision: number;
}

export interface DocUpdatePayload {
  update: string;
  sessionId?: string | null;
}

export interface DocUpdateRequest {
  resourceId?: string | null;
  requestId?: string | null;
  update?: string | null;
}

export interface ForceReleaseRequest {
  resourceId?: string | null;
  requestId?: string | null;
  reason?: string | null;
  lockId?: string | null;
}

export interface HeartbeatAck {
  serverTime: string;
  sessionExpiresAt: string;
}

export interface HeartbeatRequest {
  requestId?: string | null;
}

export interface JoinRequest {
  resourceId?: string | null;
  mode?: string | null;
  requestId?: string | null;
}

export interface JoinResult {
  resourceId: string;
  parentResourceId: string;
  mode: string;
  requestedMode: string;
  modeReason?: string | null;
  users: PresenceUser[];
  revision: number;
  lock?: LockView | null;
  lockDenied?: LockDenied | null;
  locks: LockView[];
}

export interface LeaveRequest {
  resourceId?: string | null;
  requestId?: string | null;
}

export interface LeaveResult {
  resourceId: string;
}

export interface LockDenied {
  code: string;
  message: string;
  holder?: LockHolder | null;
  expiresAt?: string | null;
}

export interface LockEndedPayload {
  lockId: string;
  holder: LockHolder;
  fencingToken: number;
  reason: string;
  releasedBy?: LockHolder | null;
  comment?: string | null;
}

export interface LockHandedOver {
  lockRequestId: string;
  from: LockHolder;
  to: LockHolder;
  lock: LockView;
  previousLockId: string;
  previousFencingToken: number;
  automatic: boolean;
}

export interface LockHandoverRequest {
  resourceId?: string | null;
  requestId?: string | null;
  reason?: string | null;
}

export interface LockHolder {
  userId: string;
  username: string;
}

export interface LockRequest {
  resourceId?: string | null;
  requestId?: string | null;
}

export interface LockRequestAnswerRequest {
  resourceId?: string | null;
  requestId?: string | null;
  lockRequestId?: string | null;
  answer?: string | null;
}

export interface LockRequestDeclined {
  lockRequestId: string;
  resourceId: string;
  requester: LockHolder;
  by?: LockHolder | null;
  reason: string;
  expired: boolean;
}

export interface LockRequestView {
  lockRequestId: string;
  resourceId: string;
  requester: LockHolder;
  holder: LockHolder;
  lockId: string;
  reason?: string | null;
  requestedAt: string;
  autoPassAt: string;
}

export interface LockView {
  lockId: string;
  resourceId: string;
  holder: LockHolder;
  acquiredAt: string;
  expiresAt: string;
  fencingToken: number;
  ttlSeconds: number;
}

export interface PresenceUser {
  userId: string;
  username: string;
  role: string;
  mode: string;
  joinedAt: string;
  sessionId: string;
}

export interface ResourceUpdateRequest {
  resourceId?: string | null;
  requestId?: string | null;
  field?: string | null;
  value: unknown;
  revision?: number | null;
}

export interface ResourceUpdatedPayload {
  resourceId: string;
  resourceType: string;
  action: string;
  data?: unknown;
  timestamp: string;
  source: string;
  deliveryId: string;
}

export interface StateChangedPayload {
  previousState: string;
  state: string;
  lockCount: number;
}

export interface SubResourceUsers {
  subResourceId: string;
  users: PresenceUser[];
}

export interface TriggeredBy {
  userId: string;
  username: string;
  action: string;
}

export interface UserPresencePayload {
  user: PresenceUser;
  reason?: string | null;
  userCount: number;
}

/** Client-to-server hub methods: request and the type of ApiResponse.data. */
export interface CollabMethods {
  'resource:join': { request: JoinRequest; result: JoinResult };
  'resource:leave': { request: LeaveRequest; result: LeaveResult };
  'heartbeat': { request: HeartbeatRequest; result: HeartbeatAck };
  'lock:acquire': { request: AcquireLockRequest; result: LockView };
  'lock:release': { request: LockRequest; result: unknown };
  'lock:heartbeat': { request: LockRequest; result: LockView };
  'lock:force-release': { request: ForceReleaseRequest; result: unknown };
  'doc:sync': { request: DocSyncRequest; result: DocSyncResult };
  'doc:update': { request: DocUpdateRequest; result: unknown };
  'awareness:update': { request: AwarenessRequest; result: unknown };
  'resource:update': { request: ResourceUpdateRequest; result: unknown };
  'lock:request': { request: LockHandoverRequest; result: LockRequestView };
  'lock:request-answer': { request: LockRequestAnswerRequest; result: unknown };
}

/** Server-to-client events and their bodies. */
export interface CollabEvents {
  'connected': ConnectedEvent;
  'error': ApiError;
  'connection:closing': ConnectionClosingEvent;
  'user:joined': ApiBroadcast<UserPresencePayload>;
  'user:left': ApiBroadcast<UserPresencePayload>;
  'resource:all_users': ApiBroadcast<AllUsersPayload>;
  'lock:acquired': ApiBroadcast<LockView>;
  'lock:released': ApiBroadcast<LockEndedPayload>;
  'lock:expired': ApiBroadcast<LockEndedPayload>;
  'lock:renewed': ApiBroadcast<LockView>;
  'doc:update': ApiBroadcast<DocUpdatePayload>;
  'awareness:update': ApiBroadcast<DocUpdatePayload>;
  'resource:updated': ApiBroadcast<ResourceUpdatedPayload>;
  'state:changed': ApiBroadcast<StateChangedPayload>;
  'lock:requested': ApiBroadcast<LockRequestView>;
  'lock:handed-over': ApiBroadcast<LockHandedOver>;
  'lock:request-declined': ApiBroadcast<LockRequestDeclined>;
}

export type CollabMethodName = keyof CollabMethods;
export type CollabEventName = keyof CollabEvents;
