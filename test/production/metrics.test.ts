import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { parsePrometheus, histogramQuantile, bucketOf, type Sample } from './prometheus-parse.js';

// GET /metrics answers for the whole process (every shard summed), in valid
// Prometheus text; the decision-latency histogram agrees with the hdr
// percentiles of /admin/stats (what `npm run bench` prints); per-customer
// series stay bounded however many customers call.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const CALLS = 400;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 4 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    appKeys: [APP_KEY],
    defaultPlan: 'open',
    plans: [{ name: 'open', budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    metrics: { customerSeries: { top: 2, include: ['acme'] } },
  }, { clockStart: TEST_CLOCK, shards: 2 });
  // Load over many connections so both shards serve calls.
  const agent = new Agent({ connections: 16 });
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < CALLS) {
      const i = next++;
      // 20 app-key customers with growing traffic, plus acme.
      const headers: Record<string, string> = i % 2 === 0
        ? { authorization: `Bearer ${CUSTOMER_KEY}` }
        : { authorization: `Bearer ${APP_KEY}`, 'x-tollgate-customer': `cust-${(i % 40) >> 1}` };
      const r = await request(`${tg.url}/v1/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(1 + (i % 37)) }], stream: i % 3 === 0 }),
      });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`call ${i}: ${r.statusCode}`);
    }
  }));
  await agent.close();
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function scrape(url = tg.url, token?: string): Promise<{ status: number; type: string | null; text: string }> {
  const r = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

const sum = (xs: Sample[]) => xs.reduce((n, s) => n + s.value, 0);

describe('/metrics', () => {
  it('is valid Prometheus text with every metric the issue names', async () => {
    const m = await scrape();
    expect(m.status).toBe(200);
    expect(m.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parsePrometheus(m.text); // throws on a malformed line
    for (const [name, type] of Object.entries({
      tollgate_requests_total: 'counter',
      tollgate_decision_latency_seconds: 'histogram',
      tollgate_upstream_latency_seconds: 'histogram',
      tollgate_upstream_errors_total: 'counter',
      tollgate_customer_spend_usd_total: 'counter',
      tollgate_customer_tokens_total: 'counter',
      tollgate_reservations_outstanding: 'gauge',
      tollgate_ledger_commit_seconds: 'histogram',
      tollgate_tokenizer_queue: 'gauge',
      tollgate_event_loop_lag_seconds: 'gauge',
    })) expect(types[name], name).toBe(type);
    expect(samples.filter((s) => s.name === 'tollgate_event_loop_lag_seconds').map((s) => s.labels.shard).sort()).toEqual(['0', '0', '0', '1', '1', '1']);
    expect(sum(samples.filter((s) => s.name === 'tollgate_ledger_commit_seconds_count'))).toBeGreaterThan(0);
    expect(samples.find((s) => s.name === 'tollgate_upstream_latency_seconds_count')?.labels).toEqual({ provider: 'openai', target: 'openai/gpt-4o-mini' });
  });

  it('sums every shard: request and decision counts equal the calls made', async () => {
    const { samples } = parsePrometheus((await scrape()).text);
    const allowed = samples.filter((s) => s.name === 'tollgate_requests_total' && s.labels.endpoint === 'chat' && s.labels.status === '200');
    expect(sum(allowed)).toBe(CALLS);
    expect(samples.find((s) => s.name === 'tollgate_decision_latency_seconds_count')!.value).toBe(CALLS);
    const stats = await tg.admin('/admin/stats');
    expect(stats.decision.count).toBe(CALLS);
  });

  it('the decision-latency histogram agrees with the hdr percentiles /admin/stats reports (as npm run bench prints them)', async () => {
    const { samples } = parsePrometheus((await scrape()).text);
    const stats = await tg.admin('/admin/stats');
    const buckets = samples.filter((s) => s.name === 'tollgate_decision_latency_seconds_bucket');
    for (const [q, hdrUs] of [[0.5, stats.decision.p50_us], [0.99, stats.decision.p99_us]] as const) {
      const promUs = histogramQuantile(q, buckets) * 1e6;
      const [lo, hi] = bucketOf(hdrUs / 1e6, buckets).map((s) => s * 1e6);
      console.log(`decision p${q * 100}: hdr ${hdrUs.toFixed(1)} µs, prometheus ${promUs.toFixed(1)} µs (bucket ${lo}-${hi} µs)`);
      // Same bucket: the Prometheus estimate is within the bucket the hdr value falls in.
      expect(promUs).toBeGreaterThanOrEqual(lo - 1e-6);
      expect(promUs).toBeLessThanOrEqual(hi + 1e-6);
    }
  });

  it('keeps per-customer series bounded: the configured ids, the top 2, and everyone else as __other__', async () => {
    const { samples } = parsePrometheus((await scrape()).text);
    const spend = samples.filter((s) => s.name === 'tollgate_customer_spend_usd_total');
    const ids = spend.map((s) => s.labels.customer);
    expect(ids).toContain('acme');
    expect(ids).toContain('__other__');
    expect(ids.length).toBe(1 + 2 + 1);
    // Nothing is lost to the bound: the series add up to the total.
    const total = samples.find((s) => s.name === 'tollgate_spend_usd_total')!.value;
    expect(sum(spend)).toBeCloseTo(total, 9);
    const calls = samples.filter((s) => s.name === 'tollgate_customer_calls_total');
    expect(sum(calls)).toBe(CALLS);
  });

  it('counts upstream errors per target with a bounded kind label', async () => {
    mock.setBehavior({ fail: '503', failCount: 1 });
    const r = await fetch(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    await r.text();
    const { samples } = parsePrometheus((await scrape()).text);
    const errors = samples.filter((s) => s.name === 'tollgate_upstream_errors_total');
    expect(errors.find((s) => s.labels.kind === 'http_503' && s.labels.target === 'openai/gpt-4o-mini')?.value).toBeGreaterThanOrEqual(1);
  });

  it('asks for a bearer token when metrics.token is set', async () => {
    const locked = await startTollgate({ providers: providers(mock.url), metrics: { token: 'scrape-token-0123' } }, { clockStart: TEST_CLOCK, shards: 1 });
    try {
      expect((await scrape(locked.url)).status).toBe(401);
      expect((await scrape(locked.url, ADMIN_TOKEN)).status).toBe(401);
      expect((await scrape(locked.url, 'scrape-token-0123')).status).toBe(200);
    } finally {
      await locked.stop();
    }
  });
});
