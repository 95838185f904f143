import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, OTHER_KEY, providers } from '../helpers/fixtures.js';

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream();
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] },
      { id: 'beta', keys: [OTHER_KEY] },
    ],
    appKeys: [APP_KEY],
    limits: { maxBodyBytes: 4096 },
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${CUSTOMER_KEY}` }) =>
  fetch(tg.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe('refusals say what is wrong, in the caller protocol', () => {
  it('401 for a missing or unknown key', async () => {
    let r = await post('/v1/chat/completions', chat, {});
    expect(r.status).toBe(401);
    expect((await r.json()).error.type).toBe('authentication_error');
    r = await post('/v1/messages', { ...chat, max_tokens: 5 }, { 'x-api-key': 'tg-wrong-key-999' });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'invalid API key' } });
  });

  it('403 when a customer key tries to act for another customer', async () => {
    const r = await post('/v1/chat/completions', chat, { authorization: `Bearer ${OTHER_KEY}`, 'x-tollgate-customer': 'acme' });
    expect(r.status).toBe(403);
    expect((await r.json()).error.type).toBe('permission_error');
  });

  it('400 when an app key names no customer', async () => {
    const r = await post('/v1/chat/completions', chat, { authorization: `Bearer ${APP_KEY}` });
    expect(r.status).toBe(400);
    expect((await r.json()).error.message).toMatch(/x-tollgate-customer/);
  });

  it('400 for malformed JSON and for missing fields', async () => {
    let r = await post('/v1/chat/completions', '{"model": "gpt-4o-mini", ');
    expect(r.status).toBe(400);
    expect((await r.json()).error.message).toMatch(/^request body is not valid JSON/);
    r = await post('/v1/chat/completions', { model: 'gpt-4o-mini' });
    expect((await r.json()).error.message).toBe('"messages" is required and must be an array');
    r = await post('/v1/messages', { model: 'claude-haiku-4-5', messages: [] });
    expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: '"max_tokens" is required' } });
    r = await post('/v1/chat/completions', { ...chat, max_tokens: -3 });
    expect((await r.json()).error.message).toBe('"max_tokens" must be a positive integer');
  });

  it('413 for a body over the limit', async () => {
    const r = await post('/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    expect(r.status).toBe(413);
    expect((await r.json()).error.message).toBe('request body is larger than the 4096-byte limit');
  });

  it('400 for a model with no price (never silently free)', async () => {
    const before = mock.stats().requests;
    const r = await post('/v1/chat/completions', { ...chat, model: 'my-private-finetune-xyz' });
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.error.type).toBe('model_not_priced');
    expect(body.error.message).toMatch(/"my-private-finetune-xyz" has no price/);
    expect(mock.stats().requests).toBe(before);
  });

  it('404 for an unknown path, 405 for a wrong method', async () => {
    expect((await fetch(`${tg.url}/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${tg.url}/v1/chat/completions`)).status).toBe(405);
  });

  it('does not charge a retried call with the same idempotency key twice', async () => {
    const headers = { authorization: `Bearer ${CUSTOMER_KEY}`, 'idempotency-key': 'order-42' };
    const first = await post('/v1/chat/completions', chat, headers);
    expect(first.status).toBe(200);
    const firstId = first.headers.get('x-tollgate-request-id');
    const again = await post('/v1/chat/completions', chat, headers);
    expect(again.status).toBe(409);
    const body = await again.json();
    expect(body.error.type).toBe('idempotency_key_reused');
    expect(body.error.original_request_id).toBe(firstId);
    const { rows } = await tg.admin('/admin/usage?customer=acme');
    expect(rows.filter((r: any) => r.idempotency_key === 'order-42' && r.cost_usd > 0)).toHaveLength(1);
  });

  it('passes a non-retryable upstream error through unchanged and charges nothing', async () => {
    mock.setBehavior({ requireKey: 'some-other-key' });
    try {
      const r = await post('/v1/chat/completions', chat);
      expect(r.status).toBe(401);
      const id = r.headers.get('x-tollgate-request-id');
      const { rows } = await tg.admin('/admin/usage?customer=acme');
      const row = rows.find((x: any) => x.request_id === id);
      expect(row).toMatchObject({ status: 401, cost_usd: 0, decision: 'allowed' });
      const view = await tg.admin('/admin/customers/acme');
      expect(view.budgets[0].reserved).toBe(0);
    } finally {
      mock.setBehavior({ requireKey: null });
    }
  });

  it('the admin API refuses without its token', async () => {
    expect((await fetch(`${tg.url}/admin/usage`)).status).toBe(401);
    expect((await fetch(`${tg.url}/admin/usage`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const bad = await fetch(`${tg.url}/admin/usage?from=yesterday`, { headers: { authorization: 'Bearer test-admin-token-123' } });
    expect(bad.status).toBe(400);
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${tg.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${tg.url}/readyz`)).status).toBe(200);
  });
});
