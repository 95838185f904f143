import { RowBatchEncoder } from '../../src/store/row-codec.js';
import type { UsageRecord } from '../../src/store/usage-record.js';

// Usage rows and binary batches for the journal's tests: each row has its own
// request id (`prefix` + a counter) and a fixed time, so no test depends on today's date.

export const JOURNAL_TS = Date.parse('2031-06-18T12:00:00Z');

/** A row maker whose request ids are `req_<prefix>000000`, `…001`, … */
export function journalRows(prefix: string): (over?: Partial<UsageRecord>) => UsageRecord {
  let n = 0;
  return (over = {}) => ({
    request_id: `req_${prefix}${String(n++).padStart(6, '0')}`, ts: JOURNAL_TS + n, customer: 'acme', agent: null, session: null, tags: {},
    endpoint: '/v1/chat/completions', model_requested: 'm', model: 'm', provider: 'p', prompt_tokens: 10, completion_tokens: 5,
    cached_tokens: 0, cache_write_tokens: 0, cost_nano: 1_000, billed_nano: 1_500, decision: 'allowed', reason: null, status: 200,
    latency_ms: 1, idempotency_key: null, price_source: 'x', usage_source: 'provider', ...over,
  });
}

/** The rows as one binary batch, as a shard hands them to the writer. */
export function journalBatch(rows: UsageRecord[]): Buffer {
  const enc = new RowBatchEncoder();
  for (const r of rows) enc.add(r);
  return enc.take();
}
