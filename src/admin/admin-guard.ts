import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Exchange } from '../http/exchange.js';
import { ADMIN_SECURITY_HEADERS } from '../http/security-headers.js';
import { isAdmin } from './admin-auth.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';

// The one gate in front of every admin API route (/admin/*, reports,
// providers, reload, cluster) and /metrics: the security headers on every
// answer, the failure limiter (shared by every shard) before the token is
// even compared, then the constant-time bearer check. A route registers
// through the guard or does not see the request.

export type Guard = (res: HttpResponse, req: HttpRequest) => Exchange | undefined;

export interface GuardOptions {
  limiter: AuthFailureLimiter;
  draining: () => boolean;
  /** The token to present; undefined disables the routes (404) unless `open`. */
  token: () => string | undefined;
  /** With no token configured the routes are open (metrics without metrics.token). */
  openWithoutToken?: boolean;
  /** How the 401 says what to send, e.g. "admin API: send Authorization: Bearer <adminToken>". */
  hint: string;
  disabled: string;
}

export function makeGuard(o: GuardOptions): Guard {
  return (res, req) => {
    const ex = new Exchange(res, o.draining, ADMIN_SECURITY_HEADERS);
    const token = o.token();
    if (!token) {
      if (o.openWithoutToken) return ex;
      ex.fail('openai', 'not_found_error', o.disabled);
      return undefined;
    }
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    const now = Date.now();
    const wait = o.limiter.blockedFor(address, now);
    if (wait) {
      ex.fail('openai', 'rate_limit_exceeded', `too many failed token attempts from this address; retry in ${wait} s`, undefined, { 'retry-after': String(wait) });
      return undefined;
    }
    if (!isAdmin(req.getHeader('authorization'), token)) {
      o.limiter.fail(address, now);
      ex.fail('openai', 'authentication_error', o.hint);
      return undefined;
    }
    return ex;
  };
}
