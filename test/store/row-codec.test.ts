import { describe, expect, it } from 'vitest';
import { countRows, decodeRows, RowBatchEncoder } from '../../src/store/row-codec.js';
import type { UsageRecord } from '../../src/store/usage-record.js';

// The binary record a shard hands to the ledger writer must decode to the
// very row the shard built: the journal and LMDB store what the call recorded.

const base: UsageRecord = {
  request_id: 'req_01ABC', ts: 1_796_000_000_123, customer: 'acme', agent: null, session: null, tags: {},
  endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini-2024-07-18', provider: 'openai',
  prompt_tokens: 12, completion_tokens: 7, cached_tokens: 0, cache_write_tokens: 0, cost_nano: 3_450, billed_nano: 5_175,
  decision: 'allowed', reason: null, status: 200, latency_ms: 14, idempotency_key: null, price_source: 'openai-2026-11', usage_source: 'provider',
};

const variants: UsageRecord[] = [
  base,
  { ...base, request_id: 'req_2', session: undefined, agent: 'bot-7', tags: { team: 'søk', env: 'prod=1;x' }, cache_write_1h_tokens: 5, cache_write_tokens: 9 },
  { ...base, request_id: 'req_3', decision: 'blocked', reason: 'budget_exceeded: month ✓ "quoted"', status: 429, model: null, provider: null, usage_source: null, price_source: null, idempotency_key: 'idem-ключ' },
  { ...base, request_id: 'req_4', unit: 'image', units: 3, shadow_exceeded: true, attempts: [{ target: 'a/gpt', error: 'HTTP 503' }, { target: 'b/gpt', error: 'ECONNREFUSED' }] },
  { ...base, request_id: 'req_5', original_cost_nano: 1, original_billed_nano: 2, session: 's-1', cost_nano: 2 ** 53 - 1, billed_nano: 0 },
  { ...base, request_id: 'req_key', key_id: 'key_0123456789abcdef', session: null },
  // A field this codec does not know (a later row version) travels too.
  { ...base, request_id: 'req_6', ...({ wallet: { id: 'w1', debit_nano: 10 } } as object) } as UsageRecord,
];

describe('row codec', () => {
  it('decodes every kind of row to the row that was encoded, in order', () => {
    const enc = new RowBatchEncoder(64); // tiny: the buffer must grow mid-record
    for (const r of variants) enc.add(r);
    expect(enc.rows).toBe(variants.length);
    const batch = enc.take();
    expect(countRows(batch)).toBe(variants.length);
    expect(decodeRows(batch)).toStrictEqual(variants.map((r) => JSON.parse(JSON.stringify(r))));
    expect(enc.rows).toBe(0);
  });

  it('gives each batch its own ArrayBuffer, so it can be transferred to another thread', () => {
    const enc = new RowBatchEncoder();
    enc.add(base);
    const a = enc.take();
    enc.add(variants[1]!);
    const b = enc.take();
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.byteOffset).toBe(0);
    expect(decodeRows(a)[0]!.request_id).toBe('req_01ABC');
    expect(decodeRows(b)[0]!.request_id).toBe('req_2');
  });

  it('keeps a tag named __proto__ as a tag (an own property), not as the tags object\'s prototype', () => {
    // JSON.parse makes "__proto__" an own key (an object literal would set the prototype).
    const tags = JSON.parse('{"team":"a","__proto__":"x","constructor":"y"}') as Record<string, string>;
    const row: UsageRecord = { ...base, request_id: 'req_proto', tags };
    const enc = new RowBatchEncoder();
    enc.add(row);
    const [decoded] = decodeRows(enc.take());
    expect(Object.keys(decoded!.tags)).toEqual(['team', '__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(decoded!.tags, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(decoded!.tags)).toBe(Object.prototype);
    expect(JSON.stringify(decoded!.tags)).toBe('{"team":"a","__proto__":"x","constructor":"y"}');
    expect(decoded).toStrictEqual(JSON.parse(JSON.stringify(row)));
  });

  it('refuses a truncated batch instead of inventing a row', () => {
    const enc = new RowBatchEncoder();
    enc.add(base);
    const batch = enc.take();
    expect(() => decodeRows(batch.subarray(0, batch.length - 3))).toThrow(/truncated/);
  });
});
