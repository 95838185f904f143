import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { SMTPServer } from 'smtp-server';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { expectedCostUsd, providers, sleep } from '../helpers/fixtures.js';

// Thresholds, degrade, soft caps, velocity caps, loop protection, friendly
// refusals, /balance and alert delivery, against the real proxy process.

const SECRET = 'hook-secret-123';
const PROMPT = 40;
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });

interface Hook { server: Server; url: string; events: any[]; badSignatures: number; up: boolean; slack: string[] }

async function startHook(): Promise<Hook> {
  const hook: Hook = { server: undefined as any, url: '', events: [], badSignatures: 0, up: true, slack: [] };
  hook.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (!hook.up) {
        res.statusCode = 503;
        res.end();
        return;
      }
      if (req.url === '/slack') {
        hook.slack.push(JSON.parse(body).text);
      } else {
        const sig = req.headers['x-tollgate-signature'];
        if (sig !== `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`) hook.badSignatures++;
        hook.events.push(JSON.parse(body));
      }
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', () => r()));
  hook.url = `http://127.0.0.1:${(hook.server.address() as any).port}`;
  return hook;
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(50);
}

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let hook: Hook;
let smtp: SMTPServer;
let smtpPort: number;
const mails: string[] = [];
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 30 });
  hook = await startHook();
  smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, _s, cb) {
      let m = '';
      stream.on('data', (d) => (m += d));
      stream.on('end', () => { mails.push(m); cb(); });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  smtpPort = (smtp.server.address() as any).port;
  const budget = (limit: number, thresholds: unknown[]) => ({ limit, unit: 'USD', period: 'month', thresholds });
  tg = await startTollgate({
    providers: providers(mock.url),
    alerts: {
      channels: [
        { name: 'ops', type: 'webhook', url: `${hook.url}/hook`, secret: SECRET },
        { name: 'team', type: 'slack', url: `${hook.url}/slack` },
        { name: 'finance', type: 'email', smtp: `smtp://127.0.0.1:${smtpPort}?starttls=off`, from: 'ai@example.com', to: ['finance@example.com'] },
      ],
    },
    customers: [
      { id: 'crossing', keys: ['tg-crossing-key-1'], budgets: [budget(CALL_USD * 100, [
        { at: 0.8, action: 'warn', notify: ['ops', 'team'] },
        { at: 1.0, action: 'block', notify: ['ops', 'finance'] },
      ])] },
      { id: 'degrader', keys: ['tg-degrader-key-1'], budgets: [budget(CALL_USD * 10, [{ at: 0.5, action: 'degrade', model: 'gpt-4.1-nano', notify: [] }])] },
      { id: 'soft', keys: ['tg-soft-key-1'], budgets: [{ limit: 10, unit: 'requests', period: 'day', burst: 0.2, thresholds: [] }] },
      { id: 'velocity', keys: ['tg-velocity-key-1'], rateLimit: { requestsPerMinute: 60 } },
      { id: 'looper', keys: ['tg-looper-key-1'], loopProtection: { maxRepeats: 5, window: '1m' } },
      { id: 'friendly', keys: ['tg-friendly-key-1'], budgets: [{ limit: 1, unit: 'requests', period: 'day' }],
        refusal: { mode: 'message', topUpUrl: 'https://pay.example.com/topup?customer={customer}' } },
    ],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
  await new Promise((r) => hook?.server.close(r));
  await new Promise<void>((r) => smtp?.close(() => r()));
});

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
// Estimated at the mock's 40 prompt tokens (the estimate is an upper bound, exact on these words).
const chat = (key: string, content = 'word '.repeat(20).trim(), extra: Record<string, unknown> = {}) =>
  client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: OUT, ...extra } as any);

describe('thresholds and alerts', () => {
  it('200 parallel calls crossing 80% and 100%: exactly one alert each, validly signed, on every channel', async () => {
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => chat('tg-crossing-key-1', `${'word '.repeat(17)}${String(i).padStart(4, '0')}`)));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(95);
    expect(results.filter((r) => r.status === 'rejected' && (r.reason as any).status === 402).length).toBeGreaterThan(0);
    await until(() => hook.events.filter((e) => e.customer === 'crossing').length >= 2 && mails.length >= 1 && hook.slack.length >= 1);
    await sleep(1000); // any duplicate would have arrived by now
    const events = hook.events.filter((e) => e.customer === 'crossing');
    expect(events.map((e) => [e.event, e.threshold, e.action]).sort()).toEqual([
      ['threshold_crossed', 0.8, 'warn'],
      ['threshold_crossed', 1, 'block'],
    ]);
    expect(hook.badSignatures).toBe(0);
    expect(events[0].budget).toMatchObject({ unit: 'USD', period: 'month' });
    expect(hook.slack.filter((t) => t.includes('crossing'))).toHaveLength(1);
    expect(mails.filter((m) => m.includes('crossing'))).toHaveLength(1);
  });

  it('degrades to the cheaper model from 50% on; the SDK call still succeeds and is priced on it', async () => {
    const models: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await chat('tg-degrader-key-1');
      models.push(r.model);
    }
    expect(models.slice(0, 5)).toEqual(Array(5).fill('gpt-4o-mini'));
    expect(models.slice(6)).toEqual(['gpt-4.1-nano', 'gpt-4.1-nano']);
    const { rows } = await tg.admin('/admin/usage?customer=degrader');
    const degraded = rows.filter((r: any) => r.model === 'gpt-4.1-nano');
    expect(degraded.length).toBeGreaterThanOrEqual(2);
    for (const r of degraded) {
      expect(r.model_requested).toBe('gpt-4o-mini');
      expect(r.reason).toBe('degraded from gpt-4o-mini');
      expect(r.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4.1-nano', { prompt: PROMPT, completion: OUT }), 12);
    }
  });

  it('a soft cap lets calls run into the burst allowance, then stops hard', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push(await chat('tg-soft-key-1').then(() => 200, (e) => e.status));
    expect(statuses).toEqual([...Array(12).fill(200), 402, 402]);
  });
});

describe('velocity caps and loops', () => {
  it('the 61st call in a minute gets 429 with retry-after, across both shards', async () => {
    const calls = await Promise.all(Array.from({ length: 61 }, (_, i) =>
      fetch(`${tg.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer tg-velocity-key-1', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `v${i}` }], max_tokens: OUT }),
      })));
    const statuses = calls.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    const limited = calls.find((r) => r.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await limited.json();
    expect(body.error.type).toBe('rate_limit_exceeded');
    expect(body.error.message).toMatch(/60 requests per minute/);
  });

  it('refuses the same request repeated past the loop limit, and alerts', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push(await chat('tg-looper-key-1', 'please do the same thing again').then(() => 200, (e) => e.status));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    await until(() => hook.events.some((e) => e.event === 'loop_detected' && e.customer === 'looper'));
    expect(hook.events.filter((e) => e.event === 'loop_detected' && e.customer === 'looper')).toHaveLength(1);
    // A different request from the same scope is fine.
    expect(await chat('tg-looper-key-1', 'something else').then(() => 200, (e) => e.status)).toBe(200);
  });
});

describe('answers the proxy gives itself', () => {
  it('a friendly refusal parses as a normal answer in both SDKs, stream and not, with no upstream call', async () => {
    await chat('tg-friendly-key-1'); // spends the one request
    const before = mock.stats().requests;
    const r = await chat('tg-friendly-key-1');
    expect(r.choices[0]!.message.content).toMatch(/budget is used up.*https:\/\/pay\.example\.com\/topup\?customer=friendly/);
    const s = await chat('tg-friendly-key-1', 'x', { stream: true }) as any;
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toMatch(/budget is used up/);
    const anthropic = new Anthropic({ apiKey: 'tg-friendly-key-1', baseURL: tg.url, maxRetries: 0 });
    const m = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect((m.content[0] as any).text).toMatch(/budget is used up/);
    const ms = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(((await ms.finalMessage()).content[0] as any).text).toMatch(/budget is used up/);
    const resp = await client('tg-friendly-key-1').responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    expect(resp.output_text).toMatch(/budget is used up/);
    expect(mock.stats().requests).toBe(before);
    const { rows } = await tg.admin('/admin/usage?customer=friendly');
    expect(rows.filter((x: any) => x.decision === 'blocked')).toHaveLength(5);
  });

  it('/balance is answered by the proxy with the budgets, and costs nothing', async () => {
    const before = mock.stats().requests;
    const r = await client('tg-soft-key-1').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '/balance' }] });
    expect(r.choices[0]!.message.content).toMatch(/Balance for soft:\n- customer daily budget: used 12 requests of 10 requests/);
    expect(mock.stats().requests).toBe(before);
  });
});

describe('alert durability', () => {
  it('a crossing made before a kill -9 is delivered after restart, exactly once', async () => {
    hook.up = false; // deliveries fail and stay in the outbox
    const key = 'tg-crossing-key-1';
    void key;
    const dir = await startTollgate({
      providers: providers(mock.url),
      alerts: { channels: [{ name: 'ops', type: 'webhook', url: `${hook.url}/hook`, secret: SECRET }] },
      customers: [{ id: 'durable', keys: ['tg-durable-key-1'], budgets: [{ limit: 3, unit: 'requests', period: 'day', thresholds: [{ at: 0.5, action: 'warn', notify: ['ops'] }] }] }],
    }, { clockStart: TEST_CLOCK });
    const c = new OpenAI({ apiKey: 'tg-durable-key-1', baseURL: `${dir.url}/v1`, maxRetries: 0 });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a' }] });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'b' }] });
    await sleep(600); // the monitor sees the crossing and writes the outbox; the hook refuses it
    await dir.kill9();
    hook.up = true;
    const again = await launch(dir.configFile, dir.dataDir);
    try {
      await until(() => hook.events.some((e) => e.customer === 'durable'));
      await sleep(1000);
      expect(hook.events.filter((e) => e.customer === 'durable')).toHaveLength(1);
    } finally {
      await again.stop();
    }
  });
});
