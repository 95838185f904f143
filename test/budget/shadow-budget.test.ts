import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers, sleep } from '../helpers/fixtures.js';

// A shadow budget (enforce: false) watches a limit without enforcing it:
// calls it would refuse are served and flagged on their rows, counted in
// /metrics and the reports, and its thresholds notify as usual. The same
// limit enforced refuses (the control that shows the flagged calls were
// over it).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let hook: { server: Server; url: string; events: any[] };

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 40, completionTokens: 20 });
  hook = { server: undefined as any, url: '', events: [] };
  hook.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hook.events.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', () => r()));
  hook.url = `http://127.0.0.1:${(hook.server.address() as any).port}`;
  const watched = { limit: 2, unit: 'requests', period: 'month' };
  tg = await startTollgate({
    providers: providers(mock.url),
    alerts: { channels: [{ name: 'ops', type: 'webhook', url: `${hook.url}/hook` }] },
    customers: [
      {
        id: 'watched', keys: ['tg-watched-key-1'],
        budgets: [{ ...watched, enforce: false, thresholds: [{ at: 0.5, action: 'warn', notify: ['ops'] }, { at: 1, action: 'block', notify: ['ops'] }] }, { limit: 100, unit: 'USD', period: 'month' }],
      },
      { id: 'enforced', keys: ['tg-enforced-key-1'], budgets: [watched] },
      // An enforcing budget refuses even when a shadow one is also over: the call is refused, not flagged.
      { id: 'both', keys: ['tg-both-key-1'], budgets: [{ ...watched, enforce: false }, { limit: 1, unit: 'requests', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK });
}, 30_000);

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
  await new Promise((r) => hook?.server.close(r));
});

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
const chat = (key: string) => client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
const stream = async (key: string) => {
  const s = await client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, stream: true });
  for await (const _ of s) { /* drain */ }
};

describe('a shadow budget', () => {
  it('serves every call it would refuse and flags each on its row', async () => {
    for (let i = 0; i < 3; i++) await chat('tg-watched-key-1');
    await stream('tg-watched-key-1');
    const { rows } = await tg.admin('/admin/usage?customer=watched');
    expect(rows.map((r: any) => [r.decision, r.status, r.reason])).toEqual([
      ['allowed', 200, null],
      ['allowed', 200, null],
      ['allowed', 200, 'shadow_budget_exceeded'],
      ['allowed', 200, 'shadow_budget_exceeded'],
    ]);
    // Its counter keeps counting past the limit.
    const budget = (await tg.admin('/admin/customers/watched')).budgets[0];
    expect(budget).toMatchObject({ period: 'month', unit: 'requests', enforce: false, limit: 2, used: 4, remaining: 0 });
  });

  it('flags a monitored call its authorization would have been refused for', async () => {
    const post = async (path: string, body: unknown) => {
      const r = await fetch(tg.url + path, { method: 'POST', headers: { authorization: 'Bearer tg-watched-key-1', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() as any };
    };
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 20 });
    expect(auth).toMatchObject({ status: 200, body: { allowed: true } });
    const ev = await post('/v1/usage/events', { model: 'gpt-4o-mini', prompt_tokens: 40, completion_tokens: 20, reservation_id: auth.body.reservation_id, idempotency_key: 'shadow-event-1' });
    expect(ev.status).toBe(200);
    const { rows } = await tg.admin('/admin/usage?customer=watched');
    expect(rows.at(-1)).toMatchObject({ endpoint: '/v1/usage/events', decision: 'allowed', reason: 'shadow_budget_exceeded' });
  });

  it('says in /balance that a shadow budget is not enforced', async () => {
    const r = await client('tg-watched-key-1').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '/balance' }] });
    const lines = r.choices[0]!.message.content!.split('\n');
    expect(lines.find((l) => l.includes('requests'))).toContain('[watched, not enforced]');
    expect(lines.find((l) => l.includes('USD'))).not.toContain('not enforced');
  });

  it('leaves a shadow budget out of x-tollgate-budget-remaining', async () => {
    const r = await client('tg-watched-key-1').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }).withResponse();
    expect(r.response.headers.get('x-tollgate-budget-remaining')).toMatch(/ USD$/);
  });

  it('refuses nothing where the same limit enforced refuses the third call', async () => {
    await chat('tg-enforced-key-1');
    await chat('tg-enforced-key-1');
    expect((await chat('tg-enforced-key-1').catch((e) => e)).status).toBe(402);
  });

  it('leaves a call an enforcing budget refuses refused, not flagged', async () => {
    await chat('tg-both-key-1');
    expect((await chat('tg-both-key-1').catch((e) => e)).status).toBe(402);
    const { rows } = await tg.admin('/admin/usage?customer=both');
    expect(rows.map((r: any) => [r.decision, r.reason])).toEqual([['allowed', null], ['blocked', 'budget_exceeded']]);
  });

  it('counts flagged calls in /metrics and the daily report', async () => {
    const metrics = await (await fetch(`${tg.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_shadow_budget_exceeded_total\{unit="requests",period="month"\} 4\b/);
    const day = new Date(tg.now()).toISOString().slice(0, 10);
    const report = await tg.admin(`/admin/reports/daily?customer=watched&from=${day}&to=${day}`);
    expect(report.days[0]).toMatchObject({ date: day, calls: 6, blocked: 0, shadow_exceeded: 4 });
  });

  it('notifies through its thresholds as an enforcing budget would', async () => {
    for (let i = 0; i < 50 && hook.events.filter((e) => e.customer === 'watched').length < 2; i++) await sleep(100);
    const events = hook.events.filter((e) => e.customer === 'watched');
    expect(events.map((e) => [e.event, e.threshold, e.action]).sort()).toEqual([
      ['threshold_crossed', 0.5, 'warn'],
      ['threshold_crossed', 1, 'block'],
    ]);
  });
});
