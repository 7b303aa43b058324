// The server's machine-readable error codes (src/Messages/ErrorCodes.cs). The widget decides by these alone;
// the accompanying English message is for people (toasts, logs) and may change or be translated.
// `satisfies` checks each against the generated ErrorCode union (docs/wire-types.d.ts): a renamed code fails tsc.
import type { ErrorCode } from './types';

export const ErrorCodes = {
  Unauthorized: 'UNAUTHORIZED',
  PermissionDenied: 'PERMISSION_DENIED',
  ValidationFailed: 'VALIDATION_FAILED',
  NotJoined: 'NOT_JOINED',
  LockHeld: 'LOCK_HELD',
  LockNotHeld: 'LOCK_NOT_HELD',
  MaxEditorsReached: 'MAX_EDITORS_REACHED',
  MaxViewersReached: 'MAX_VIEWERS_REACHED',
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'UNAVAILABLE',
} as const satisfies Record<string, ErrorCode>;
