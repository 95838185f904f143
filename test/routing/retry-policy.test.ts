import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, RetryPolicy, failureKind, retryAfterMs } from '../../src/routing/retry-policy.js';

describe('retry policy', () => {
  const p = new RetryPolicy(DEFAULT_RETRY);

  it.each([
    [429, true], [408, true], [500, true], [502, true], [503, true], [529, true],
    [400, false], [401, false], [403, false], [404, false], [422, false],
  ])('by default retries HTTP %i: %s', (status, retried) => {
    expect(p.retriesStatus(status)).toBe(retried);
  });

  it('retries connect, reset and timeout failures by default, never unknown ones', () => {
    expect(p.retriesFailure('connect')).toBe(true);
    expect(p.retriesFailure('reset')).toBe(true);
    expect(p.retriesFailure('timeout')).toBe(true);
    expect(p.retriesFailure('other')).toBe(false);
  });

  it('follows a configured list', () => {
    const q = new RetryPolicy({ maxAttempts: 2, on: [503, 'connect'] });
    expect(q.retriesStatus(503)).toBe(true);
    expect(q.retriesStatus(500)).toBe(false);
    expect(q.retriesStatus(429)).toBe(false);
    expect(q.retriesFailure('connect')).toBe(true);
    expect(q.retriesFailure('timeout')).toBe(false);
    expect(q.maxAttempts).toBe(2);
  });

  it.each([
    ['ECONNREFUSED', 'connect'], ['UND_ERR_CONNECT_TIMEOUT', 'connect'], ['ECONNRESET', 'reset'], ['UND_ERR_SOCKET', 'reset'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'], ['UND_ERR_BODY_TIMEOUT', 'timeout'], ['CERT_HAS_EXPIRED', 'connect'], ['HPE_INVALID_CONSTANT', 'reset'],
    ['TG_UPSTREAM_TOO_LARGE', 'other'], [undefined, 'other'],
  ])('classifies %s as %s', (code, kind) => {
    expect(failureKind(code)).toBe(kind);
  });

  it('reads retry-after as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs('0.5', now)).toBe(500);
    expect(retryAfterMs(new Date(now + 7000).toUTCString(), now)).toBe(7000);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
