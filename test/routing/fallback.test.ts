import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { answered, chat, customer, hammer, openaiProvider, storedRows } from './helpers.js';

// Two real mock upstreams on two ports make two providers: tier 0 fails,
// tier 1 works. Breakers are set so high here that every call really goes
// through the fallback path (breaker.test.ts covers skipping).

let primary: Awaited<ReturnType<typeof startMockUpstream>>;
let backup: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const NEVER_OPEN = { failures: 1_000_000, cooldown: '1s' };

beforeAll(async () => {
  primary = await startMockUpstream({ completionTokens: 8 });
  backup = await startMockUpstream({ completionTokens: 8 });
  tg = await startTollgate({
    providers: [
      openaiProvider('primary', primary.url), openaiProvider('backup', backup.url),
      { name: 'misrouted', type: 'openai', baseUrl: `${primary.url}/v2`, apiKey: 'sk-x' },
    ],
    routes: [
      { model: 'fb', targets: [
        { provider: 'primary', model: 'gpt-4o-mini', breaker: NEVER_OPEN },
        { provider: 'backup', model: 'gpt-4o-mini', priority: 1 },
      ] },
      { model: 'fb-timeout', targets: [
        { provider: 'primary', model: 'gpt-4o-mini', breaker: NEVER_OPEN, timeouts: { firstByte: '300ms' } },
        { provider: 'backup', model: 'gpt-4o-mini', priority: 1 },
      ] },
      { model: 'fb-two-attempts', retry: { maxAttempts: 2 }, targets: [
        { provider: 'primary', model: 'gpt-4o-mini', breaker: NEVER_OPEN },
        { provider: 'primary', model: 'gpt-4o', priority: 1, breaker: NEVER_OPEN },
        { provider: 'backup', model: 'gpt-4o-mini', priority: 2 },
      ] },
      { model: 'fb-404', targets: [
        { provider: 'misrouted', model: 'gpt-4o-mini' },
        { provider: 'backup', model: 'gpt-4o-mini', priority: 1 },
      ] },
      { model: 'fb-no-5xx', retry: { on: [429, 'connect'] }, targets: [
        { provider: 'primary', model: 'gpt-4o-mini', breaker: NEVER_OPEN },
        { provider: 'backup', model: 'gpt-4o-mini', priority: 1 },
      ] },
    ],
    customers: [customer],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await primary?.close();
  await backup?.close();
});

beforeEach(() => {
  primary.reset();
  backup.reset();
});

describe('fallback to the next tier', () => {
  for (const mode of ['500', 'reset'] as const) {
    for (const stream of [false, true]) {
      it(`1000 ${stream ? 'streamed' : 'whole'} calls all succeed while tier 0 ${mode === '500' ? 'answers 500' : 'resets the connection'}`, async () => {
        primary.setBehavior({ fail: mode });
        const results = await hammer(1000, 16, () => chat(tg.url, 'fb', { stream }));
        const ok = results.filter((r) => answered(r, stream)).length;
        console.info(`tier 0 ${mode}, ${stream ? 'stream' : 'whole'}: ${ok}/1000 answered; tier 0 saw ${primary.stats().requests}, tier 1 saw ${backup.stats().requests}`);
        expect(ok).toBe(1000);
        // Counted at the mocks: every call tried tier 0 first, tier 1 answered all of them.
        expect(primary.stats().requests).toBe(1000);
        expect(backup.stats().requests).toBe(1000);
      });
    }
  }

  it('records the provider that answered and every failed attempt on the usage row', async () => {
    primary.setBehavior({ fail: '503' });
    const r = await chat(tg.url, 'fb');
    expect(r.status).toBe(200);
    const row = (await tg.admin('/admin/usage?customer=acme&limit=100000')).rows.find((x: any) => x.request_id === r.requestId);
    expect(row).toMatchObject({ provider: 'backup', model: 'gpt-4o-mini', model_requested: 'fb', status: 200 });
    expect(row.reason).toBe('fallback: primary/gpt-4o-mini: HTTP 503');
    expect(row.cost_usd).toBeGreaterThan(0);
    const stored = storedRows(tg.dataDir).find((x) => x.request_id === r.requestId);
    expect(stored.attempts).toEqual([{ target: 'primary/gpt-4o-mini', error: 'HTTP 503' }]);
    expect(row.attempts).toEqual([{ target: 'primary/gpt-4o-mini', error: 'HTTP 503' }]);
  });

  it('moves on when tier 0 does not answer within its first-byte timeout', async () => {
    primary.setBehavior({ fail: 'timeout' });
    const t0 = performance.now();
    const r = await chat(tg.url, 'fb-timeout');
    const ms = performance.now() - t0;
    expect(answered(r, false)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(ms).toBeLessThan(2000);
    // The answer waits for the journal, not for LMDB: an admin read waits for the write-behind (read-your-writes) before LMDB is read directly.
    await tg.admin('/admin/usage?customer=acme&limit=1');
    const stored = storedRows(tg.dataDir).find((x) => x.request_id === r.requestId);
    expect(stored.attempts).toEqual([{ target: 'primary/gpt-4o-mini', error: 'UND_ERR_HEADERS_TIMEOUT' }]);
  });

  it('returns a non-retryable upstream error (404) unchanged and tries nothing else', async () => {
    const r = await chat(tg.url, 'fb-404');
    expect(r.status, r.text).toBe(404);
    expect(JSON.parse(r.text).error.message).toContain('Invalid URL');
    expect(primary.stats().requests).toBe(1);
    expect(backup.stats().requests).toBe(0);
  });

  it('does not fall back on a 401 from the upstream: it goes back unchanged', async () => {
    primary.setBehavior({ requireKey: 'some-other-key' });
    const r = await chat(tg.url, 'fb');
    expect(r.status).toBe(401);
    expect(backup.stats().requests).toBe(0);
  });

  it('stops after the configured number of attempts and passes the last error back', async () => {
    primary.setBehavior({ fail: '500' });
    const r = await chat(tg.url, 'fb-two-attempts');
    expect(r.status).toBe(500);
    expect(primary.stats().requests).toBe(2);
    expect(backup.stats().requests).toBe(0);
  });

  it('does not retry statuses left out of the configured list', async () => {
    primary.setBehavior({ fail: '500' });
    const r = await chat(tg.url, 'fb-no-5xx');
    expect(r.status).toBe(500);
    expect(backup.stats().requests).toBe(0);
  });

  it('a stream cut after its first byte ends cleanly for the client and is billed for what was sent', async () => {
    primary.setBehavior({ fail: 'cut-stream', completionTokens: 40 });
    const r = await chat(tg.url, 'fb', { stream: true, extra: { max_tokens: 40 } });
    expect(r.status).toBe(200);
    expect(r.text).toContain('tok0');
    expect(r.text).not.toContain('[DONE]');
    expect(backup.stats().requests).toBe(0);
    const row = (await tg.admin('/admin/usage?customer=acme&limit=100000')).rows.find((x: any) => x.request_id === r.requestId);
    expect(row.provider).toBe('primary');
    expect(row.reason).toMatch(/upstream_stream/);
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.cost_usd).toBeGreaterThan(0);
  });
});
