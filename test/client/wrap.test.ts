import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { BudgetExceededError, TollgateUnavailableError, wrap } from 'tollgate/client';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { expectedCostUsd } from '../helpers/fixtures.js';

// tollgate/client, imported through the package's own "exports", wrapping
// the official SDKs that call the mock provider directly, against the real
// Tollgate process in monitoring mode.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const QUESTION = 'How many tokens does this question take?';   // 41 chars: 11 prompt tokens at the mock
const P = Math.ceil(QUESTION.length / 4);
const N = 10;                                                     // max_tokens: the mock answers exactly N
const GPT = 'gpt-4o-mini';
const CLAUDE = 'claude-haiku-4-5';
const GPT_CALL = expectedCostUsd(GPT, { prompt: P, completion: N });
const CLAUDE_CALL = expectedCostUsd(CLAUDE, { prompt: P, completion: N });
const AGENT = 'wrapped-app';
const messages = [{ role: 'user' as const, content: QUESTION }];

const KEYS = {
  openai: 'tg-client-openai-1', anthropic: 'tg-client-claude-1', open: 'tg-client-roomy-01',
  degrade: 'tg-client-degrade1', abandon: 'tg-client-abandon1', clamp: 'tg-client-clamp-01', late: 'tg-client-late-001',
};

const openai = (key: string, over: Record<string, unknown> = {}) =>
  wrap(new OpenAI({ apiKey: 'sk-direct', baseURL: `${mock.url}/v1`, maxRetries: 0 }), { url: tg.url, key, agent: AGENT, ...over });
const anthropic = (key: string, over: Record<string, unknown> = {}) =>
  wrap(new Anthropic({ apiKey: 'sk-direct', baseURL: mock.url, maxRetries: 0 }), { url: tg.url, key, agent: AGENT, ...over });

const providerCalls = () => mock.stats().requests as number;
const rows = async (customer: string) => (await tg.admin(`/admin/usage?customer=${customer}`)).rows as any[];
const charged = async (customer: string) => (await rows(customer)).filter((r) => r.decision === 'allowed');
const usd = async (customer: string) => (await tg.admin(`/admin/customers/${customer}?agent=${AGENT}`)).budgets.find((b: any) => b.unit === 'USD');

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 16 });
  tg = await startTollgate({
    providers: [],
    customers: [
      { id: 'oa', keys: [KEYS.openai], budgets: [{ limit: GPT_CALL * 3.5, unit: 'USD', period: 'month' }] },
      { id: 'an', keys: [KEYS.anthropic], budgets: [{ limit: CLAUDE_CALL * 3.5, unit: 'USD', period: 'month' }] },
      { id: 'roomy', keys: [KEYS.open], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      { id: 'abandon', keys: [KEYS.abandon], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      { id: 'late', keys: [KEYS.late], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      { id: 'clamped', keys: [KEYS.clamp], clampMaxTokens: true, budgets: [{ limit: GPT_CALL * 1.5, unit: 'USD', period: 'month' }] },
      { id: 'degrader', keys: [KEYS.degrade], budgets: [{ limit: GPT_CALL * 4, unit: 'USD', period: 'month', thresholds: [{ at: 0.2, action: 'degrade', model: 'gpt-4.1-nano', notify: [] }] }] },
    ],
  }, { shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

beforeEach(() => mock.reset());

describe('tollgate/client wrapping the OpenAI SDK', () => {
  it('serves three calls (plain, streamed, .stream() helper) on a budget worth 3.5, then refuses three without calling the provider', async () => {
    const client = openai(KEYS.openai);

    const plain = await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    expect(plain.usage).toMatchObject({ prompt_tokens: P, completion_tokens: N });

    const stream = await client.chat.completions.create({ model: GPT, max_tokens: N, messages, stream: true });
    const chunks: any[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    // The wrapper asked for usage; the caller did not, so it never sees the usage-only chunk.
    expect(mock.stats().lastBody.stream_options).toEqual({ include_usage: true });
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);

    const helper = client.chat.completions.stream({ model: GPT, max_tokens: N, messages });
    const final = await helper.finalChatCompletion();
    expect(final.choices[0]!.message.content).toMatch(/^tok0/);
    expect(providerCalls()).toBe(3);

    for (let i = 0; i < 3; i++) {
      const attempt = i === 2
        ? client.chat.completions.stream({ model: GPT, max_tokens: N, messages }).finalChatCompletion()
        : client.chat.completions.create({ model: GPT, max_tokens: N, messages, stream: i === 1 });
      const refused: any = await attempt.then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(BudgetExceededError);
      expect(refused.status).toBe(402);
      expect(refused.scope).toMatchObject({ customer: 'oa' });
    }
    expect(providerCalls()).toBe(3);

    const ok = await charged('oa');
    expect(ok).toHaveLength(3);
    for (const r of ok) expect(r).toMatchObject({ agent: AGENT, endpoint: '/v1/usage/events', model: GPT, prompt_tokens: P, completion_tokens: N, usage_source: 'reported' });
    const budget = await usd('oa');
    expect(budget.used).toBeCloseTo(3 * GPT_CALL, 9);
    expect(budget.reserved).toBe(0);
  });

  it('passes the usage chunk through when the caller asked for it', async () => {
    const client = openai(KEYS.open);
    const stream = await client.chat.completions.create({ model: GPT, max_tokens: N, messages, stream: true, stream_options: { include_usage: true } });
    const chunks: any[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: P, completion_tokens: N } });
  });

  it('meters responses (streamed and not) and embeddings', async () => {
    const client = openai(KEYS.open, { agent: 'shapes' });
    const r = await client.responses.create({ model: GPT, input: QUESTION, max_output_tokens: N });
    expect(r.usage?.output_tokens).toBe(N);
    await client.responses.stream({ model: GPT, input: QUESTION, max_output_tokens: N }).finalResponse();
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: QUESTION });
    expect(e.data.length).toBe(1);
    expect(providerCalls()).toBe(3);
    const rowsOf = (await charged('roomy')).filter((x) => x.agent === 'shapes');
    expect(rowsOf.map((x) => [x.model, x.prompt_tokens, x.completion_tokens]).sort()).toEqual([[GPT, P, N], [GPT, P, N], ['text-embedding-3-small', P, 0]].sort());
  });

  it('records the session and tags on the charged row', async () => {
    const client = openai(KEYS.open, { agent: 'tagged', session: 'sess-42', tags: { team: 'search' } });
    await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    const [row] = (await charged('roomy')).filter((r) => r.agent === 'tagged');
    expect(row.tags).toMatchObject({ session: 'sess-42', team: 'search' });
  });

  it('swaps the model when a degrade threshold applies, as the proxy does', async () => {
    const client = openai(KEYS.degrade);
    await client.chat.completions.create({ model: GPT, max_tokens: N, messages });   // spends 25%: past the 20% threshold
    const second = await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    expect(second.model).toBe('gpt-4.1-nano');
    expect(mock.stats().byModel).toEqual({ [GPT]: 1, 'gpt-4.1-nano': 1 });
    expect((await charged('degrader')).map((r) => r.model).sort()).toEqual([GPT, 'gpt-4.1-nano'].sort());
  });

  it('sends the smaller max_tokens the budget can still pay for when the scope clamps', async () => {
    const client = openai(KEYS.clamp);
    await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    const second = await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    const sent = mock.stats().lastBody.max_tokens;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(N);
    expect(second.usage?.completion_tokens).toBe(sent);
    const budget = (await tg.admin(`/admin/customers/clamped?agent=${AGENT}`)).budgets[0];
    expect(budget.used).toBeLessThanOrEqual(GPT_CALL * 1.5 + 1e-12);
    expect(budget.reserved).toBe(0);
  });

  it('charges a .stream() helper the caller breaks out of, and leaves nothing reserved', async () => {
    mock.setBehavior({ chunkDelayMs: 30 });
    const client = openai(KEYS.abandon, { agent: 'helper-quitter' });
    const helper = client.chat.completions.stream({ model: GPT, max_tokens: N, messages });
    let seen = 0;
    for await (const _ of helper) if (++seen === 2) break;
    await expect.poll(async () => (await charged('abandon')).filter((r) => r.agent === 'helper-quitter').length).toBe(1);
    const [row] = (await charged('abandon')).filter((r) => r.agent === 'helper-quitter');
    expect(row.prompt_tokens).toBe(P);
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.completion_tokens).toBeLessThan(N);
    const b = (await tg.admin('/admin/customers/abandon?agent=helper-quitter')).budgets.find((x: any) => x.unit === 'USD');
    expect(b.reserved).toBe(0);
  });

  it('charges what an abandoned stream generated and leaves nothing reserved', async () => {
    const client = openai(KEYS.abandon, { agent: 'quitter' });
    const stream = await client.chat.completions.create({ model: GPT, max_tokens: N, messages, stream: true });
    let seen = 0;
    for await (const _ of stream) if (++seen === 2) break;
    const [row] = (await charged('abandon')).filter((r) => r.agent === 'quitter');
    // No usage chunk arrived: the prompt estimate plus ceil(generated chars / 4).
    expect(row).toMatchObject({ prompt_tokens: P });
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.completion_tokens).toBeLessThan(N);
    const b = (await tg.admin('/admin/customers/abandon?agent=quitter')).budgets.find((x: any) => x.unit === 'USD');
    expect(b.reserved).toBe(0);
  });

  it('charges a call whose promise is never awaited', async () => {
    const client = openai(KEYS.abandon, { agent: 'fire-and-forget' });
    void client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    await expect.poll(async () => (await charged('abandon')).filter((r) => r.agent === 'fire-and-forget').length).toBe(1);
    const [row] = (await charged('abandon')).filter((r) => r.agent === 'fire-and-forget');
    expect(row).toMatchObject({ prompt_tokens: P, completion_tokens: N });
  });

  it('reads the raw answer of asResponse() from a clone and still charges it', async () => {
    const client = openai(KEYS.abandon, { agent: 'raw-reader' });
    const res = await client.chat.completions.create({ model: GPT, max_tokens: N, messages }).asResponse();
    expect((await res.json()).usage.completion_tokens).toBe(N);
    const [row] = (await charged('abandon')).filter((r) => r.agent === 'raw-reader');
    expect(row).toMatchObject({ prompt_tokens: P, completion_tokens: N });
  });

  it('releases the hold when the provider fails, and charges nothing', async () => {
    const client = openai(KEYS.abandon, { agent: 'failing' });
    mock.setBehavior({ fail: '500', failCount: 1 });
    await expect(client.chat.completions.create({ model: GPT, max_tokens: N, messages })).rejects.toMatchObject({ status: 500 });
    expect((await charged('abandon')).filter((r) => r.agent === 'failing')).toHaveLength(0);
    const b = (await tg.admin('/admin/customers/abandon?agent=failing')).budgets.find((x: any) => x.unit === 'USD');
    expect(b.reserved).toBe(0);
  });

  it('reports the budgets in scope with getStatus()', async () => {
    const status = await openai(KEYS.openai).getStatus();
    expect(status).toMatchObject({ customer: 'oa', agent: AGENT });
    expect(status.budgets[0]).toMatchObject({ unit: 'USD', period: 'month' });
    expect(status.budgets[0]!.limit).toBeCloseTo(GPT_CALL * 3.5, 9);
  });

  it('refuses a status request without a valid key', async () => {
    const r = await fetch(`${tg.url}/v1/usage/status`, { headers: { authorization: 'Bearer not-a-key' } });
    expect(r.status).toBe(401);
    expect((await r.json()).error.type).toBe('authentication_error');
  });

  it('fails closed when Tollgate is unreachable: no provider call', async () => {
    const client = wrap(new OpenAI({ apiKey: 'sk-direct', baseURL: `${mock.url}/v1`, maxRetries: 0 }), { url: `http://127.0.0.1:${await closedPort()}`, key: KEYS.open });
    await expect(client.chat.completions.create({ model: GPT, max_tokens: N, messages })).rejects.toBeInstanceOf(TollgateUnavailableError);
    await expect(client.chat.completions.create({ model: GPT, max_tokens: N, messages, stream: true })).rejects.toBeInstanceOf(TollgateUnavailableError);
    expect(providerCalls()).toBe(0);
  });

  it('fails open when asked: calls the provider and reports best effort', async () => {
    const lost: unknown[] = [];
    const client = wrap(new OpenAI({ apiKey: 'sk-direct', baseURL: `${mock.url}/v1`, maxRetries: 0 }), {
      url: `http://127.0.0.1:${await closedPort()}`, key: KEYS.open, failMode: 'open', onReportError: (_err, event) => lost.push(event),
    });
    const answer = await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    expect(answer.usage?.completion_tokens).toBe(N);
    expect(providerCalls()).toBe(1);
    await expect.poll(() => lost.length, { timeout: 10_000 }).toBe(1);
    expect(lost[0]).toMatchObject({ model: GPT, prompt_tokens: P, completion_tokens: N });
    expect(await client.flushReports()).toBe(1);   // still unreachable: kept for later
  });
});

/**
 * A front for Tollgate whose events path can fail: 'down' answers 503 without
 * forwarding; 'lose-answer' forwards (Tollgate charges) and still answers 503,
 * as when the answer is lost on the way back.
 */
async function flakyFront(): Promise<{ url: string; events: { mode: 'up' | 'down' | 'lose-answer' }; forwardedEvents: () => number; close(): Promise<void> }> {
  const events: { mode: 'up' | 'down' | 'lose-answer' } = { mode: 'up' };
  let forwarded = 0;
  const server: Server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const isEvent = req.url === '/v1/usage/events';
    if (isEvent && events.mode === 'down') {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'overloaded_error', message: 'down' } }));
      return;
    }
    if (isEvent) forwarded++;
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'content-type', 'x-tollgate-agent', 'x-tollgate-tags']) if (req.headers[h]) headers[h] = String(req.headers[h]);
    const r = await fetch(tg.url + req.url, { method: req.method, headers, body: req.method === 'GET' ? undefined : Buffer.concat(chunks) });
    const text = await r.text();
    if (isEvent && events.mode === 'lose-answer') {
      events.mode = 'down';   // one lost answer, then Tollgate is down
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'overloaded_error', message: 'lost' } }));
    } else res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    events,
    forwardedEvents: () => forwarded,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('tollgate/client when usage reports fail', () => {
  let front: Awaited<ReturnType<typeof flakyFront>>;
  beforeAll(async () => {
    front = await flakyFront();
  });
  afterAll(() => front?.close());

  const lateClient = (agent: string, failures: boolean[]) => wrap(new OpenAI({ apiKey: 'sk-direct', baseURL: `${mock.url}/v1`, maxRetries: 0 }), {
    url: front.url, key: KEYS.late, agent, onReportError: (_err, _event, dropped) => failures.push(dropped),
  });
  const lateRows = async (agent: string) => (await charged('late')).filter((r) => r.agent === agent);

  it('keeps a report Tollgate could not take and charges it when Tollgate is back', async () => {
    const failures: boolean[] = [];
    const client = lateClient('kept', failures);
    front.events.mode = 'down';
    const answer = await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    expect(answer.usage?.completion_tokens).toBe(N);
    expect(failures).toEqual([false]);             // kept, not dropped
    expect(await lateRows('kept')).toHaveLength(0);

    front.events.mode = 'up';
    expect(await client.flushReports()).toBe(0);
    const rows = await lateRows('kept');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ prompt_tokens: P, completion_tokens: N, decision: 'allowed' });
  });

  it('charges once a report whose first answer was lost and that was sent again', async () => {
    const client = lateClient('lost-answer', []);
    front.events.mode = 'lose-answer';             // charged, the answer lost, then down
    await client.chat.completions.create({ model: GPT, max_tokens: N, messages });
    front.events.mode = 'up';
    const before = front.forwardedEvents();
    expect(await client.flushReports()).toBe(0);
    expect(await client.flushReports()).toBe(0);
    expect(front.forwardedEvents() - before).toBe(1);
    expect(await lateRows('lost-answer')).toHaveLength(1);
    const b = (await tg.admin('/admin/customers/late?agent=lost-answer')).budgets.find((x: any) => x.unit === 'USD');
    expect(b.used).toBeCloseTo(2 * GPT_CALL, 9);   // this call and the one above, each once
    expect(b.reserved).toBe(0);
  });
});

describe('tollgate/client wrapping the Anthropic SDK', () => {
  it('serves three calls (plain, streamed, .stream() helper) on a budget worth 3.5, then refuses three without calling the provider', async () => {
    const client = anthropic(KEYS.anthropic);

    const plain = await client.messages.create({ model: CLAUDE, max_tokens: N, messages });
    expect(plain.usage).toMatchObject({ input_tokens: P, output_tokens: N });

    const stream = await client.messages.create({ model: CLAUDE, max_tokens: N, messages, stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types).toContain('message_stop');

    const final = await client.messages.stream({ model: CLAUDE, max_tokens: N, messages }).finalMessage();
    expect(final.usage.output_tokens).toBe(N);
    expect(providerCalls()).toBe(3);

    for (let i = 0; i < 3; i++) {
      const attempt = i === 2
        ? client.messages.stream({ model: CLAUDE, max_tokens: N, messages }).finalMessage()
        : client.messages.create({ model: CLAUDE, max_tokens: N, messages, stream: i === 1 });
      const refused = await attempt.then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(BudgetExceededError);
      expect((refused as BudgetExceededError).scope).toMatchObject({ customer: 'an' });
    }
    expect(providerCalls()).toBe(3);

    const ok = await charged('an');
    expect(ok).toHaveLength(3);
    for (const r of ok) expect(r).toMatchObject({ agent: AGENT, model: CLAUDE, prompt_tokens: P, completion_tokens: N, usage_source: 'reported' });
    const budget = await usd('an');
    expect(budget.used).toBeCloseTo(3 * CLAUDE_CALL, 9);
    expect(budget.reserved).toBe(0);
  });

  it('counts cache reads and writes into the prompt, as the events endpoint expects', async () => {
    mock.setBehavior({ cachedTokens: 4, cacheWriteTokens: 2 });
    const client = anthropic(KEYS.open, { agent: 'cacher' });
    const m = await client.messages.create({ model: CLAUDE, max_tokens: N, messages });
    expect(m.usage).toMatchObject({ input_tokens: P - 6, cache_read_input_tokens: 4, cache_creation_input_tokens: 2 });
    const [row] = (await charged('roomy')).filter((r) => r.agent === 'cacher');
    expect(row).toMatchObject({ prompt_tokens: P, completion_tokens: N, cached_tokens: 4 });
  });

  it('charges an abandoned stream its reported input and the text it generated', async () => {
    // Paced frames: the helper reads ahead of its caller, so without a pause the whole answer is in before the break.
    mock.setBehavior({ chunkDelayMs: 30 });
    const client = anthropic(KEYS.abandon, { agent: 'claude-quitter' });
    const stream = client.messages.stream({ model: CLAUDE, max_tokens: N, messages });
    let deltas = 0;
    for await (const ev of stream) if (ev.type === 'content_block_delta' && ++deltas === 2) break;
    await expect.poll(async () => (await charged('abandon')).filter((r) => r.agent === 'claude-quitter').length).toBe(1);
    const [row] = (await charged('abandon')).filter((r) => r.agent === 'claude-quitter');
    expect(row.prompt_tokens).toBe(P);
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.completion_tokens).toBeLessThan(N);
  });

  it('fails closed when Tollgate is unreachable: no provider call', async () => {
    const client = wrap(new Anthropic({ apiKey: 'sk-direct', baseURL: mock.url, maxRetries: 0 }), { url: `http://127.0.0.1:${await closedPort()}`, key: KEYS.open });
    await expect(client.messages.create({ model: CLAUDE, max_tokens: N, messages })).rejects.toBeInstanceOf(TollgateUnavailableError);
    expect(providerCalls()).toBe(0);
  });
});

describe('tollgate/client as a module', () => {
  it('imports nothing outside its folder and no Node-only server packages', () => {
    const dir = new URL('../../src/client/', import.meta.url);
    for (const f of readdirSync(dir)) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      for (const m of src.matchAll(/from '([^']+)'/g)) expect(`${f}: ${m[1]}`).toMatch(/: \.\/[a-z-]+\.js$/);
    }
  });
});
