// The hub connection's token (issue 12 item 9). The server closes a connection when its token expires
// (CloseOnAuthenticationExpiration), and a WebSocket cannot change its token, so a fresh token means a new
// connection. With a tokenProvider the provider asks it for every (re)connect, and again shortly before the
// current token expires: a different token then moves the provider to a new connection at once (unsent edits are
// kept and go out with the resync); the same token again leaves the connection alone until the server closes it,
// and the reconnect that follows asks once more. The refresh time is the token's `exp` when the browser's clock
// agrees with the token's `iat` (within CLOCK_AGREEMENT_MS); otherwise the token's own lifetime (exp - iat) counted
// from when we got it, so a wrong clock in the browser cannot make every token look expired. (The lifetime alone
// runs late by up to a second, since iat and exp are whole seconds: a refresh could then come after the expiry.)
import { jwtClaims } from '../util';

/** Refresh when this share of the token's lifetime is left, at most MAX_MARGIN_MS before it expires. */
const MARGIN_SHARE = 0.2;
const MAX_MARGIN_MS = 60_000;
/** The browser's clock is trusted for `exp` when it is this close to the token's `iat` at the time we got it. */
const CLOCK_AGREEMENT_MS = 30_000;

export class TokenSource {
  private _current = '';
  private _receivedAt = 0;
  private _offered: string | null = null;
  private _offeredAt = 0;

  constructor(private readonly _fixed: string | undefined, private readonly _provider: (() => string | Promise<string>) | undefined) {
    if (_provider && _fixed) this._offer(_fixed); // both given: the token first, the provider from then on
  }

  get refreshes(): boolean {
    return !!this._provider;
  }

  /** A token got from the tokenProvider outside the provider (the SDK reads the user from it): the next connect uses it. */
  offer(token: string): void {
    if (this._provider && token) this._offer(token);
  }

  private _offer(token: string): void {
    this._offered = token;
    this._offeredAt = Date.now();
  }

  /** The token for a new connection: the offered one once, else a fresh one from the tokenProvider (or the fixed token). */
  async next(): Promise<string> {
    let token = this._offered;
    let receivedAt = this._offeredAt;
    this._offered = null;
    if (!token) {
      token = this._provider ? await this._provider() : this._fixed ?? '';
      receivedAt = Date.now();
    }
    this._current = token;
    this._receivedAt = receivedAt;
    return token;
  }

  /** Asks the tokenProvider for a newer token than the current one; null when it has none (or there is no provider). */
  async newer(): Promise<string | null> {
    if (!this._provider) return null;
    const token = await this._provider();
    if (!token || token === this._current) return null;
    this._offer(token);
    return token;
  }

  /** Milliseconds until the current token should be replaced; null without a tokenProvider or a readable expiry. */
  refreshIn(now = Date.now()): number | null {
    if (!this._provider) return null;
    const { exp, iat } = jwtClaims(this._current);
    if (typeof exp !== 'number') return null;
    const hasIat = typeof iat === 'number' && iat < exp;
    const lifeMs = (hasIat ? exp - iat : Math.max(0, exp - this._receivedAt / 1000)) * 1000;
    const clockAgrees = hasIat && Math.abs(this._receivedAt - iat * 1000) <= CLOCK_AGREEMENT_MS;
    const expiresAt = clockAgrees ? exp * 1000 : this._receivedAt + lifeMs;
    const margin = Math.min(MAX_MARGIN_MS, lifeMs * MARGIN_SHARE);
    return Math.max(0, expiresAt - margin - now);
  }
}
