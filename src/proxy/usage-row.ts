import type { UsageRecord } from '../store/usage-record.js';
import type { Caller } from '../identity/key-directory.js';

/** A usage row with the fields every outcome shares filled in; the caller sets the rest. */
export function baseRow(requestId: string, ts: number, caller: Caller, endpoint: string, modelRequested: string | null, idempotencyKey: string | null): UsageRecord {
  const row: UsageRecord = {
    request_id: requestId,
    ts,
    customer: caller.customer,
    agent: caller.agent,
    session: caller.session ?? null,
    tags: caller.tags,
    endpoint,
    model_requested: modelRequested,
    model: null,
    provider: null,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    cache_write_tokens: 0,
    cost_nano: 0,
    billed_nano: 0,
    decision: 'allowed',
    reason: null,
    status: 0,
    latency_ms: 0,
    idempotency_key: idempotencyKey,
    price_source: null,
    usage_source: null,
  };
  if (caller.keyId) row.key_id = caller.keyId; // only then: rows of other keys keep their shape
  return row;
}
