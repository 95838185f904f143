import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { rawRequest } from '../production/raw-http.js';

// Token guessing is limited per client address for the whole process: every
// admin route (providers, reload, cluster, reports...) and /metrics go
// through one guard, and the failure count is shared by every shard, so
// guesses spread over many connections (and so over both shards) lock the
// address out after exactly `adminAuthFailuresPerMinute`.

const MAX = 6;
const METRICS_TOKEN = 'metrics-token-456';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream();
  tg = await startTollgate({ providers: providers(mock.url), limits: { adminAuthFailuresPerMinute: MAX }, metrics: { token: METRICS_TOKEN } }, { shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const ROUTES: [string, string][] = [['GET', '/admin/providers'], ['POST', '/admin/reload'], ['GET', '/admin/cluster'], ['GET', '/metrics'], ['GET', '/admin/stats']];

/** One request on a connection of its own (SO_REUSEPORT spreads new connections over the shards). */
async function attempt(method: string, path: string, token: string) {
  const r = await rawRequest(tg.port, [`${method} ${path} HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${token}\r\ncontent-length: 0\r\n\r\n`], { untilAnswer: true, timeoutMs: 5_000 });
  return r;
}

describe('admin token guessing', () => {
  it('locks the address out after the limit, counting guesses on every admin route and /metrics across both shards', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3 * MAX; i++) {
      const [method, path] = ROUTES[i % ROUTES.length]!;
      statuses.push((await attempt(method, path, `guess-${i}`)).status!);
    }
    expect(statuses.slice(0, MAX)).toEqual(Array(MAX).fill(401));
    expect(statuses.slice(MAX)).toEqual(Array(2 * MAX).fill(429));
    for (const [method, path] of ROUTES) {
      const right = await attempt(method, path, path === '/metrics' ? METRICS_TOKEN : ADMIN_TOKEN);
      expect(right.status, path).toBe(429);
      expect(right.head).toMatch(/retry-after: \d+/i);
      expect(right.head).toMatch(/x-content-type-options: nosniff/i);
      expect(JSON.parse(right.body).error.type).toBe('rate_limit_exceeded');
    }
  });
});
