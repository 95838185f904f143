import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, sleep } from '../helpers/fixtures.js';
import { answered, chat, customer, hammer, openaiProvider } from './helpers.js';

// Routes and providers change without a restart: POST /admin/reload and
// SIGHUP re-read the file; a bad file is refused and the old config stays;
// a stream in flight during a reload finishes.

let a: Awaited<ReturnType<typeof startMockUpstream>>;
let b: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let base: Record<string, any>;

const route = (provider: string) => [{ model: 'r', targets: [{ provider, model: 'gpt-4o-mini' }] }];

beforeAll(async () => {
  a = await startMockUpstream({ completionTokens: 4 });
  b = await startMockUpstream({ completionTokens: 4 });
  tg = await startTollgate({
    providers: [openaiProvider('a', a.url), openaiProvider('b', b.url)],
    routes: route('a'),
    customers: [customer],
  }, { clockStart: TEST_CLOCK, shards: 2 });
  base = parse(readFileSync(tg.configFile, 'utf8'));
});

afterAll(async () => {
  await tg?.stop();
  await a?.close();
  await b?.close();
});

beforeEach(() => {
  a.reset();
  b.reset();
});

function writeConfig(patch: Record<string, unknown>) {
  writeFileSync(tg.configFile, stringify({ ...base, ...patch }));
}

async function reload() {
  const r = await request(`${tg.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: r.statusCode, body: (await r.body.json()) as any };
}

/** Calls until `mock` has answered `n` in a row on every shard (the reload reached them all). */
async function settleOn(mock: typeof a, calls = 20) {
  mock.reset();
  await hammer(calls, 4, () => chat(tg.url, 'r'));
  return mock.stats().requests;
}

describe('config reload without restart', () => {
  it('GET /admin/providers lists each provider and its targets with state, last error and latency', async () => {
    await hammer(10, 2, () => chat(tg.url, 'r'));
    const view = await tg.admin('/admin/providers');
    expect(view.providers.map((p: any) => p.name)).toEqual(['a', 'b']);
    const [t] = view.providers[0].targets;
    expect(t).toMatchObject({ target: 'a/gpt-4o-mini', provider: 'a', model: 'gpt-4o-mini', state: 'healthy', cooling_down_until: null, last_error: null, calls: 10, failures: 0 });
    expect(t.latency_ms.samples).toBe(10);
    expect(t.latency_ms.p50).toBeGreaterThan(0);
    expect(t.latency_ms.p99).toBeGreaterThanOrEqual(t.latency_ms.p50);
    expect(view.providers[0].origin).toBe(a.url);
    expect(JSON.stringify(view)).not.toContain('sk-a');
    const denied = await request(`${tg.url}/admin/providers`);
    expect(denied.statusCode).toBe(401);
    await denied.body.dump();
  });

  it('POST /admin/reload applies new routes to every shard', async () => {
    writeConfig({ routes: route('b') });
    const r = await reload();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, applied: ['providers', 'routes', 'retry'], restart_required: [], routes: 1, providers: 2 });
    expect(await settleOn(b)).toBe(20);
    expect(a.stats().requests).toBe(0);
  });

  it('SIGHUP reloads the file too', async () => {
    writeConfig({ routes: route('a') });
    tg.proc.kill('SIGHUP');
    let n = 0;
    for (let i = 0; i < 50 && n !== 20; i++) {
      await sleep(100);
      n = await settleOn(a);
    }
    expect(n).toBe(20);
    expect(tg.logs()).toMatch(/config reloaded/);
  });

  it('a config that fails validation is refused with every problem named, and the running one stays', async () => {
    writeConfig({ routes: [{ model: 'r', targets: [{ provider: 'nope', model: 'gpt-4o-mini' }, { provider: 'a', model: 'x', weight: -1 }] }] });
    const r = await reload();
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_config');
    expect(r.body.error.problems).toEqual([expect.stringMatching(/^routes\[0\]\.targets\[1\]\.weight: /)]);
    writeConfig({ routes: [{ model: 'r', targets: [{ provider: 'nope', model: 'gpt-4o-mini' }] }] });
    const r2 = await reload();
    expect(r2.body.error.problems).toEqual(['routes[0].targets[0].provider: unknown provider "nope"']);
    expect(await settleOn(a)).toBe(20);
    // SIGHUP with the same bad file: logged, nothing changes, the process stays up.
    tg.proc.kill('SIGHUP');
    await sleep(300);
    expect(tg.logs()).toMatch(/reload rejected, keeping the running config/);
    expect(await settleOn(a)).toBe(20);
  });

  it('reports edits outside routing as needing a restart instead of half-applying them', async () => {
    writeConfig({ routes: route('a'), customers: [{ ...customer, budgets: [{ limit: 1, unit: 'USD', period: 'day' }] }] });
    const r = await reload();
    expect(r.body.restart_required).toEqual(['customers']);
  });

  it('a stream in flight during a reload finishes on the target it started on', async () => {
    writeConfig({ routes: route('a') });
    await reload();
    a.setBehavior({ completionTokens: 30, chunkDelayMs: 30 });
    const res = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'r', messages: [{ role: 'user', content: 'long' }], stream: true, max_tokens: 30 }),
    });
    const text = res.body.text();
    await sleep(200);
    writeConfig({ routes: route('b'), providers: [openaiProvider('b', b.url)] });
    expect((await reload()).status).toBe(200);
    const body = await text;
    expect(body).toContain('tok29');
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // New calls go to the new route; provider a is gone.
    const after = await chat(tg.url, 'r');
    expect(answered(after, false)).toBe(true);
    const view = await tg.admin('/admin/providers');
    expect(view.providers.map((p: any) => p.name)).toEqual(['b']);
  });
});
