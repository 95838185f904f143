import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';

// The endpoints the SDKs call besides the model calls: models.list,
// models.retrieve and Anthropic's messages.countTokens (forwarded, never
// charged); and the request id on every answer, refusals and 404s included.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let bare: Tollgate; // no routes, no models lists

beforeAll(async () => {
  mock = await startMockUpstream();
  const customers = [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1, unit: 'USD', period: 'month' }], markup: 1.5 }];
  tg = await startTollgate({
    providers: providers(mock.url),
    routes: [
      { model: 'smart', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      { model: 'counted', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] },
    ],
    customers,
  }, { clockStart: TEST_CLOCK, shards: 1 });
  bare = await startTollgate({ providers: providers(mock.url), customers }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await bare?.stop();
  await mock?.close();
});

const openai = (t: Tollgate) => new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${t.url}/v1`, maxRetries: 0 });
const anthropic = (t: Tollgate) => new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: t.url, maxRetries: 0 });

describe('/v1/models', () => {
  it('lists routes and every priced model the configured providers reach, with the price this customer pays', async () => {
    const ids = new Map<string, any>();
    for await (const m of openai(tg).models.list()) ids.set(m.id, m);
    expect(ids.has('smart')).toBe(true);
    expect(ids.has('counted')).toBe(true);
    expect(ids.has('gpt-4o-mini')).toBe(true);
    expect(ids.has('claude-haiku-4-5')).toBe(true);
    expect(ids.get('smart').owned_by).toBe('tollgate');
    expect(ids.get('gpt-4o-mini').owned_by).toBe('openai');
    // gpt-4o-mini lists at 0.15 USD per 1M input tokens; this customer pays 1.5×.
    expect(ids.get('smart').tollgate_price.input).toBeCloseTo(0.225, 6);
  });

  it('lists the reachable models when no route is configured', async () => {
    const ids: string[] = [];
    for await (const m of openai(bare).models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).toContain('claude-haiku-4-5');
  });

  it('retrieves one model by id and answers 404 in OpenAI shape for an unknown one', async () => {
    const m = await openai(tg).models.retrieve('smart');
    expect(m).toMatchObject({ id: 'smart', object: 'model', owned_by: 'tollgate' });
    expect((await openai(tg).models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    const err = await openai(tg).models.retrieve('no-such-model').catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error.code).toBe('model_not_found');
  });

  it('answers the Anthropic SDK in its own list shape', async () => {
    const page = await anthropic(tg).models.list();
    expect(page.data.map((m) => m.id)).toContain('claude-haiku-4-5');
    expect(page.data[0]!.type).toBe('model');
  });
});

describe('count_tokens', () => {
  it('forwards messages.countTokens to the Anthropic provider and charges nothing', async () => {
    mock.reset({ keepBehavior: true });
    const before = await tg.admin('/admin/customers/acme');
    const r = await anthropic(tg).messages.countTokens({ model: 'counted', messages: [{ role: 'user', content: 'how many tokens is this?' }] });
    expect(r.input_tokens).toBeGreaterThan(0);
    const stats = mock.stats();
    expect(stats.byPath['/v1/messages/count_tokens']).toBe(1);
    expect(stats.lastBody.model).toBe('claude-haiku-4-5');
    const after = await tg.admin('/admin/customers/acme');
    expect(after.month.calls).toBe(before.month.calls);
    expect(after.budgets).toEqual(before.budgets);
    expect((await tg.admin('/admin/usage?customer=acme')).rows.filter((r: any) => r.endpoint.includes('count'))).toEqual([]);
  });

  it('refuses a model only OpenAI serves with a 400 in Anthropic shape', async () => {
    const err = await anthropic(tg).messages.countTokens({ model: 'smart', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error.type).toBe('error');
  });

  it('refuses an unknown key without forwarding', async () => {
    mock.reset({ keepBehavior: true });
    const bad = new Anthropic({ apiKey: 'tg-wrong', baseURL: tg.url, maxRetries: 0 });
    await expect(bad.messages.countTokens({ model: 'counted', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    expect(mock.stats().byPath['/v1/messages/count_tokens']).toBeUndefined();
  });
});

describe('x-tollgate-request-id', () => {
  it('is on every answer: models, 404, 405, health and admin refusals', async () => {
    const answers = await Promise.all([
      fetch(`${tg.url}/v1/models`, { headers: { authorization: `Bearer ${CUSTOMER_KEY}` } }),
      fetch(`${tg.url}/v1/models`),
      fetch(`${tg.url}/v1/nothing-here`),
      fetch(`${tg.url}/v1/chat/completions`),
      fetch(`${tg.url}/healthz`),
      fetch(`${tg.url}/admin/stats`),
    ]);
    for (const r of answers) {
      await r.text();
      expect(r.headers.get('x-tollgate-request-id'), `${r.url} ${r.status}`).toMatch(/^req_[0-9A-Z]{26}$/);
    }
    expect(answers.map((r) => r.status)).toEqual([200, 401, 404, 405, 200, 401]);
  });
});
