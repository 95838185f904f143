import type { Protocol } from '../protocols/call.js';

// Every refusal or failure Tollgate itself produces: one code, one status.
// Bodies follow the calling protocol so each SDK raises its own error type.

export const ERRORS = {
  budget_exceeded: 402,           // never 429: SDKs would retry it
  rate_limit_exceeded: 429,
  authentication_error: 401,
  permission_error: 403,
  invalid_request_error: 400,
  model_not_priced: 400,
  request_too_large: 413,
  request_timeout: 408,           // the body did not arrive within limits.bodyTimeout
  uri_too_long: 414,
  request_header_too_large: 431,
  not_found_error: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  idempotency_key_reused: 409,
  scope_limit_exceeded: 403,      // too many agent scopes / app-key customers (limits.dynamic*); retrying does not help
  upstream_error: 502,
  upstream_timeout: 504,
  overloaded_error: 503,
  budget_unavailable: 503,        // cluster: Redis unreachable and this node's lease used up (redisDown: closed)
  ledger_unavailable: 503,        // the usage ledger cannot commit (disk full, write error): calls are not admitted
  session_limit_exceeded: 503,    // limits.sessions live sessions with session budgets: a new one waits for idle ones to end
  internal_error: 500,
} as const;

export type ErrorType = keyof typeof ERRORS;

export function errorStatus(type: ErrorType): number {
  return ERRORS[type];
}

export function errorBody(protocol: Protocol, type: ErrorType | string, message: string, extra: Record<string, unknown> = {}): unknown {
  return protocol === 'anthropic'
    ? { type: 'error', error: { type, message, ...extra } }
    : { error: { type, code: type, message, ...extra } };
}
