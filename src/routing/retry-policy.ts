// Which upstream failures send a call on to the next target, and how many
// upstream calls one client call may make. A failure is retryable only
// before any byte reached the client; the attempt loop enforces that part.

export type FailureKind = 'connect' | 'reset' | 'timeout' | 'other';

/** A config entry: an HTTP status, a status class, or a transport failure kind. */
export type RetryCondition = number | '4xx' | '5xx' | 'connect' | 'reset' | 'timeout';

export interface RetrySettings {
  maxAttempts: number;
  on: readonly RetryCondition[];
}

export const DEFAULT_RETRY: RetrySettings = Object.freeze({
  maxAttempts: 3,
  on: Object.freeze([408, 429, '5xx', 'connect', 'reset', 'timeout'] as RetryCondition[]),
});

export class RetryPolicy {
  readonly maxAttempts: number;
  readonly #statuses = new Set<number>();
  readonly #classes = new Set<number>();
  readonly #kinds = new Set<FailureKind>();

  constructor(settings: RetrySettings) {
    this.maxAttempts = settings.maxAttempts;
    for (const c of settings.on) {
      if (typeof c === 'number') this.#statuses.add(c);
      else if (c === '4xx') this.#classes.add(4);
      else if (c === '5xx') this.#classes.add(5);
      else this.#kinds.add(c);
    }
  }

  retriesStatus(status: number): boolean {
    return this.#statuses.has(status) || this.#classes.has(Math.floor(status / 100));
  }

  retriesFailure(kind: FailureKind): boolean {
    return kind !== 'other' && this.#kinds.has(kind);
  }
}

const KIND_BY_CODE: Record<string, FailureKind> = {
  ECONNREFUSED: 'connect', EHOSTUNREACH: 'connect', ENETUNREACH: 'connect', EAI_AGAIN: 'connect', ENOTFOUND: 'connect',
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  ECONNRESET: 'reset', EPIPE: 'reset', UND_ERR_SOCKET: 'reset', UND_ERR_CLOSED: 'reset',
  ETIMEDOUT: 'timeout', UND_ERR_HEADERS_TIMEOUT: 'timeout', UND_ERR_BODY_TIMEOUT: 'timeout',
};

/** Transport failure kind from an error code (`err.code`, else `err.cause.code`). */
export function failureKind(code: string | undefined): FailureKind {
  if (!code) return 'other';
  const k = KIND_BY_CODE[code];
  if (k) return k;
  // TLS handshake and certificate failures happen while connecting.
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL')) return 'connect';
  // The upstream spoke broken HTTP (llhttp HPE_* codes) or cut a declared body short.
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'ECONNABORTED') return 'reset';
  return 'other';
}

/**
 * A `retry-after` header value (seconds, or an HTTP date) in ms from `now`;
 * undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
