import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Exchange } from '../http/exchange.js';
import { ADMIN_SECURITY_HEADERS } from '../http/security-headers.js';
import { matchToken, type AdminToken } from './admin-auth.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';

// The one gate in front of every admin API route (/admin/*, reports,
// providers, reload, cluster) and /metrics: the security headers on every
// answer, the failure limiter (shared by every shard) before the token is
// even compared, then the constant-time bearer check against every named
// token, then the role: a `read` token may use GET routes only (403
// admin_read_only on every other method, existing routes such as reload and
// rerate included). A route registers through the guard or does not see the
// request; the Exchange it gets carries the token's name as `actor` (audit).

export type AdminExchange = Exchange & { actor: string };
export type Guard = (res: HttpResponse, req: HttpRequest) => AdminExchange | undefined;

export interface GuardOptions {
  limiter: AuthFailureLimiter;
  draining: () => boolean;
  /** The tokens that may pass; none disables the routes (404) unless `openWithoutToken`. */
  tokens: () => readonly AdminToken[];
  /** With no token configured the routes are open (metrics without metrics.token). */
  openWithoutToken?: boolean;
  /** How the 401 says what to send, e.g. "admin API: send Authorization: Bearer <adminToken>". */
  hint: string;
  disabled: string;
}

export function makeGuard(o: GuardOptions): Guard {
  return (res, req) => {
    const ex = new Exchange(res, o.draining, ADMIN_SECURITY_HEADERS) as AdminExchange;
    const tokens = o.tokens();
    if (!tokens.length) {
      ex.actor = 'anonymous';
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
    const token = matchToken(req.getHeader('authorization'), tokens);
    if (!token) {
      o.limiter.fail(address, now);
      ex.fail('openai', 'authentication_error', o.hint);
      return undefined;
    }
    if (token.role === 'read' && req.getMethod() !== 'get') {
      ex.fail('openai', 'admin_read_only', `the admin token "${token.name}" has the read role: it may use GET routes only`);
      return undefined;
    }
    ex.actor = token.name;
    return ex;
  };
}
