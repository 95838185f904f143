import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { parsePrometheus } from '../production/prometheus-parse.js';
import { metricsOf, resourceAttributes, startOtlpReceiver, type Metric } from './otlp-receiver.js';

// `otel:` pushes the /metrics families to an OTLP/HTTP receiver: a local
// node:http server here, fed by the real process (two shards) after calls
// through the official openai client.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;

const config = (receiver: string, interval: string) => ({
  providers: providers(mock.url),
  customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  otel: { endpoint: receiver, interval, headers: { 'x-collector-key': 'k-123' } },
});

async function calls(tg: Tollgate, n: number): Promise<void> {
  const client = new OpenAI({ baseURL: `${tg.url}/v1`, apiKey: CUSTOMER_KEY, maxRetries: 0 });
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i}` }] });
    } else {
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `stream ${i}` }], stream: true });
      for await (const _ of stream) { /* drain */ }
    }
  }
}

const total = (m: Metric | undefined) => (m?.points ?? []).reduce((n, p) => n + p.value, 0);
const allowed = (m: Metric | undefined) => (m?.points ?? []).filter((p) => p.attributes.decision === 'allowed').reduce((n, p) => n + p.value, 0);

async function until<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 4 });
});

afterAll(async () => {
  await mock?.close();
});

describe('OTLP metrics export', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let tg: Tollgate;
  const CALLS = 6;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tg = await startTollgate(config(receiver.url, '200ms'), { clockStart: TEST_CLOCK, shards: 2 });
    await calls(tg, CALLS);
  });

  afterAll(async () => {
    await tg?.stop();
    await receiver?.close();
  });

  const latest = () => until('an export counting every call', () => {
    for (let i = receiver.exports.length - 1; i >= 0; i--) {
      const m = metricsOf(receiver.exports[i]!.body);
      if (allowed(m.get('tollgate_requests_total')) === CALLS) return { m, exp: receiver.exports[i]! };
    }
    return undefined;
  });

  it('posts to /v1/metrics every interval with the configured headers and a tollgate resource', async () => {
    const { exp } = await latest();
    expect(exp.headers['content-type']).toMatch(/^application\/json/);
    expect(exp.headers['x-collector-key']).toBe('k-123');
    expect(resourceAttributes(exp.body)['service.name']).toBe('tollgate');
    const before = receiver.exports.length;
    await until('two more exports', () => (receiver.exports.length >= before + 2 ? true : undefined), 5_000);
  });

  it('carries the /metrics families with the same values, summed over both shards', async () => {
    const { m } = await latest();
    const text = await tg.adminText('/metrics');
    const { samples, types } = parsePrometheus(text);
    const prom = (name: string, f: (l: Record<string, string>) => boolean = () => true) =>
      samples.filter((s) => s.name === name && f(s.labels)).reduce((n, s) => n + s.value, 0);

    // Every family of /metrics is in the export, with the matching kind.
    const kinds: Record<string, string> = { counter: 'sum', gauge: 'gauge', histogram: 'histogram' };
    for (const [name, type] of Object.entries(types)) {
      if (!kinds[type]) continue;
      expect(m.get(name)?.kind, name).toBe(kinds[type]);
    }
    expect(m.get('tollgate_requests_total')).toMatchObject({ kind: 'sum', monotonic: true });
    expect(m.get('tollgate_requests_total')!.points).toContainEqual(expect.objectContaining({
      attributes: { endpoint: 'chat', status: '200', decision: 'allowed' }, value: CALLS,
    }));
    expect(allowed(m.get('tollgate_requests_total'))).toBe(prom('tollgate_requests_total', (l) => l.decision === 'allowed'));

    const spend = total(m.get('tollgate_spend_usd_total'));
    expect(spend).toBeGreaterThan(0);
    expect(spend).toBeCloseTo(prom('tollgate_spend_usd_total'), 12);
    expect(m.get('tollgate_customer_spend_usd_total')!.points).toEqual([expect.objectContaining({ attributes: { customer: 'acme' } })]);
    const tokens = m.get('tollgate_tokens_total')!.points;
    expect(tokens.find((p) => p.attributes.kind === 'completion')!.value).toBe(CALLS * 4);
    expect(tokens.find((p) => p.attributes.kind === 'prompt')!.value).toBe(prom('tollgate_tokens_total', (l) => l.kind === 'prompt'));

    expect(m.get('tollgate_ledger_healthy')!.points[0]!.value).toBe(1);
    expect(m.get('tollgate_event_loop_lag_seconds')!.points.map((p) => p.attributes.shard).sort()).toEqual(['0', '0', '0', '1', '1', '1']);
  });

  it('exports the decision latency as a histogram whose buckets hold every decision', async () => {
    const { m } = await latest();
    const h = m.get('tollgate_decision_latency_seconds')!;
    expect(h).toMatchObject({ kind: 'histogram', unit: 's' });
    const p = h.points[0]!;
    expect(p.count).toBe(CALLS);
    expect(p.bucketCounts!.reduce((a, b) => a + b, 0)).toBe(CALLS);
    expect(p.bucketCounts).toHaveLength(p.explicitBounds!.length + 1);
    expect(p.explicitBounds![0]).toBeCloseTo(1e-6, 12);
  });
});

describe('OTLP metrics export on shutdown', () => {
  it('pushes the calls since the last export once more on SIGTERM', async () => {
    const receiver = await startOtlpReceiver();
    // An interval far longer than the test: only the shutdown flush can deliver these calls.
    const tg = await startTollgate(config(receiver.url, '1h'), { clockStart: TEST_CLOCK, shards: 2 });
    try {
      await calls(tg, 3);
      expect(receiver.exports).toHaveLength(0);
      expect(await tg.stop()).toBe(0);
      expect(receiver.exports).toHaveLength(1);
      const m = metricsOf(receiver.exports[0]!.body);
      expect(allowed(m.get('tollgate_requests_total'))).toBe(3);
      expect(m.get('tollgate_decision_latency_seconds')!.points[0]!.count).toBe(3);
    } finally {
      if (tg.proc.exitCode === null) await tg.stop();
      await receiver.close();
    }
  });

  it('does not hold up shutdown when the receiver is gone', async () => {
    const receiver = await startOtlpReceiver();
    await receiver.close(); // nothing listens on its port any more
    const tg = await startTollgate(config(receiver.url, '1h'), { clockStart: TEST_CLOCK, shards: 1 });
    await calls(tg, 1);
    expect(await tg.stop()).toBe(0);
    expect(tg.logs()).toMatch(/last OTLP metrics export did not finish|OTLP metrics export to http:\/\/127\.0\.0\.1:\d+ failed/);
  });
});
