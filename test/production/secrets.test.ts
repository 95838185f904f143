import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { ANTHROPIC_UPSTREAM_KEY, APP_KEY, CUSTOMER_KEY, OPENAI_UPSTREAM_KEY, OTHER_KEY, providers } from '../helpers/fixtures.js';

// Secrets stay secret: client keys only as hashes, provider keys never
// leave toward clients, logs or disk, prompts are never written anywhere,
// one customer's key cannot touch another's budget, and the admin API
// throttles token guessing and sends security headers.

const PROMPT = 'PROMPT-CANARY-7f3a9c tell me a secret';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const sha = (k: string) => `sha256:${createHash('sha256').update(k).digest('hex')}`;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 12, requireKey: OPENAI_UPSTREAM_KEY });
  tg = await startTollgate({
    logLevel: 'debug', // the chattiest level must still leak nothing
    providers: providers(mock.url),
    customers: [
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      // beta's key is configured only by its hash
      { id: 'beta', keyHashes: [sha(OTHER_KEY)], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
    ],
    appKeys: [APP_KEY],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

function chat(key: string, extra: Record<string, string> = {}, stream = false) {
  return fetch(`${tg.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: PROMPT }] }),
  });
}

async function used(customer: string): Promise<number> {
  const v = await tg.admin(`/admin/customers/${customer}`);
  return v.budgets[0].used + v.budgets[0].reserved;
}

describe('one customer cannot reach another', () => {
  it('serves a customer whose key is configured only as a sha256 hash', async () => {
    const r = await chat(OTHER_KEY);
    expect(r.status).toBe(200);
    await r.text();
  });

  it('refuses a customer key that names another customer, and charges neither', async () => {
    const before = { acme: await used('acme'), beta: await used('beta') };
    const r = await chat(CUSTOMER_KEY, { 'x-tollgate-customer': 'beta' });
    expect(r.status).toBe(403);
    expect((await r.json()).error.type).toBe('permission_error');
    expect({ acme: await used('acme'), beta: await used('beta') }).toEqual(before);
  });

  it("spends only the key owner's budget", async () => {
    const beta = await used('beta');
    const r = await chat(CUSTOMER_KEY, {}, true);
    await r.text();
    expect(r.status).toBe(200);
    expect(await used('beta')).toBe(beta);
    expect(await used('acme')).toBeGreaterThan(0);
  });

  it('an app key spends the budget of the customer it names, and only that one', async () => {
    const acme = await used('acme');
    const beta = await used('beta');
    const r = await chat(APP_KEY, { 'x-tollgate-customer': 'beta' });
    await r.text();
    expect(r.status).toBe(200);
    expect(await used('acme')).toBe(acme);
    expect(await used('beta')).toBeGreaterThan(beta);
  });

  it('a customer key opens no admin endpoint, whatever it asks for', async () => {
    for (const path of ['/admin/customers/beta', '/admin/usage?customer=beta', '/admin/stats']) {
      const r = await fetch(tg.url + path, { headers: { authorization: `Bearer ${CUSTOMER_KEY}` } });
      expect(r.status).toBe(401);
    }
  });
});

describe('admin API hardening', () => {
  it('sends security headers on admin answers, refused or not, and on /metrics', async () => {
    const answers = [
      await fetch(`${tg.url}/admin/customers/acme`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      await fetch(`${tg.url}/admin/customers/acme`),
      await fetch(`${tg.url}/metrics`),
    ];
    for (const r of answers) {
      await r.text();
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('locks an address out with 429 after too many wrong admin tokens, even for the right token', async () => {
    const one = await startTollgate({ providers: providers(mock.url), limits: { adminAuthFailuresPerMinute: 5 } }, { clockStart: TEST_CLOCK, shards: 1 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await fetch(`${one.url}/admin/stats`, { headers: { authorization: `Bearer guess-${i}` } });
        statuses.push(r.status);
        await r.text();
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const right = await fetch(`${one.url}/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(right.status).toBe(429);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await right.json()).error.type).toBe('rate_limit_exceeded');
    } finally {
      await one.stop();
    }
  });
});

describe('nothing secret is written down', () => {
  it('leaves no client key, provider key or prompt text in the data directory or the logs', async () => {
    // More traffic that touches every writer: refusals, a failed upstream call, streams.
    await (await chat('tg-not-a-real-key-123')).text();
    mock.setBehavior({ fail: '500', failCount: 1 });
    await (await chat(CUSTOMER_KEY)).text();
    await (await chat(CUSTOMER_KEY, { 'idempotency-key': 'idem-1' }, true)).text();
    await (await fetch(`${tg.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CUSTOMER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] }),
    })).text();
    await (await fetch(`${tg.url}/metrics`)).text();
    const code = await tg.stop();
    expect(code).toBe(0);

    const secrets = [CUSTOMER_KEY, OTHER_KEY, APP_KEY, OPENAI_UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, ADMIN_TOKEN, 'PROMPT-CANARY-7f3a9c'];
    const files = walk(tg.dataDir);
    expect(files.length).toBeGreaterThan(0);
    const found: string[] = [];
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const s of secrets) if (bytes.includes(Buffer.from(s))) found.push(`${f}: ${s}`);
    }
    const logs = tg.logs();
    expect(logs).toMatch(/"msg":"call"/); // the per-call lines were written
    for (const s of secrets) if (logs.includes(s)) found.push(`logs: ${s}`);
    expect(found).toEqual([]);
  });
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
