import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { chat, customer, openaiProvider } from '../routing/helpers.js';

// Never free by accident, through the real proxy: a $0 table entry is refused under the default
// unknownModel rule (and the upstream is never called), the admin view says why, and a target
// configured to no price is named at startup.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 10, completionTokens: 5 });
  tg = await startTollgate({
    providers: [...providers(mock.url), openaiProvider('azure-eu', mock.url, { priceAs: 'gpt-4o-mini' })],
    routes: [
      { model: 'eu-chat', targets: [{ provider: 'azure-eu', model: 'prod-chat-eu' }] },
      { model: 'typo-chat', targets: [{ provider: 'azure-eu', model: 'prod-chat-2', priceAs: 'gpt-4o-mini-typo' }] },
    ],
    customers: [customer],
  });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a $0 table entry', () => {
  it('is refused as unpriced, and the upstream is never called', async () => {
    mock.reset();
    // LiteLLM lists codestral/codestral-2405 at $0 / $0: billing it would record nothing.
    const r = await chat(tg.url, 'codestral/codestral-2405');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.type).toBe('model_not_priced');
    expect(mock.stats().requests).toBe(0);
  });

  it('GET /admin/pricing/:model says it resolved to a $0 entry that is not marked free', async () => {
    const body = JSON.parse(await tg.adminText(`/admin/pricing/${encodeURIComponent('codestral/codestral-2405')}`));
    expect(body.resolution).toMatchObject({ resolved_id: 'codestral/codestral-2405', via: 'exact', priced: false, unpriced_reason: 'zero_price' });
    expect(body.resolution.detail).toMatch(/all \$0 and which is not marked free/);
  });
});

describe('GET /admin/pricing/:model shows how an id resolved', () => {
  it('a fine-tuned id resolves to its base fine-tune rate', async () => {
    const p = await tg.admin(`/admin/pricing/${encodeURIComponent('ft:gpt-4o-mini-2024-07-18:org::abc123')}`);
    expect(p).toMatchObject({ matched: 'ft:gpt-4o-mini-2024-07-18', via: 'fine-tune' });
    expect(p.provider_price.input).toBeCloseTo(0.3, 9);
    expect(p.resolution.detail).toMatch(/fine-tune/);
  });

  it('an Azure deployment name resolves through ?priceAs=', async () => {
    const p = await tg.admin('/admin/pricing/prod-chat-eu?provider=openai&priceAs=gpt-4o-mini');
    expect(p).toMatchObject({ matched: 'gpt-4o-mini', via: 'price-as' });
    expect(p.resolution).toMatchObject({ price_as: 'gpt-4o-mini', priced: true });
  });

  it('an unknown id answers 404 with the reason', async () => {
    const body = JSON.parse(await tg.adminText('/admin/pricing/prod-chat-eu'));
    expect(body.error.type).toBe('not_found_error');
    expect(body.resolution).toMatchObject({ priced: false, unpriced_reason: 'not_found' });
  });
});

describe('startup', () => {
  it('warns about a target whose priceAs resolves to no price, and only that one', () => {
    const lines = tg.logs().split('\n').filter((l) => l.includes('configured target has no price'));
    expect(lines.some((l) => l.includes('prod-chat-2') && l.includes('gpt-4o-mini-typo'))).toBe(true);
    expect(lines.some((l) => l.includes('prod-chat-eu'))).toBe(false);
  });
});

describe('priceAs on the proxy path', () => {
  it('serves an Azure deployment name and bills it at the model it is priced as', async () => {
    mock.reset();
    const r = await chat(tg.url, 'eu-chat');
    expect(r.status).toBe(200);
    expect(mock.stats().requests).toBe(1);
    const { rows } = await tg.admin('/admin/usage?limit=100000');
    const row = rows.find((x: any) => x.request_id === r.requestId);
    // gpt-4o-mini list price: $0.15 / 1M input, $0.60 / 1M output; the mock reports 10 + 5 tokens.
    expect(row).toMatchObject({ model: 'prod-chat-eu', prompt_tokens: 10, completion_tokens: 5 });
    expect(row.cost_usd).toBeCloseTo((10 * 0.15 + 5 * 0.6) / 1e6, 12);
  });
});
