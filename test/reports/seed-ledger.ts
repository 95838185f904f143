import { join } from 'node:path';
import { Ledger } from '../../src/store/ledger.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';

// Writes usage rows through the real ledger (rows, indexes, aggregates in
// one transaction per batch) into a fresh data directory, for report tests
// that need history no live call could produce.

export const DAY = 86_400_000;

let seq = 0;
export function usageRow(over: Partial<UsageRecord> & { ts: number; customer: string }): UsageRecord {
  const cost = over.cost_nano ?? 1_000_000;
  return {
    request_id: `req_seed${String(seq++).padStart(12, '0')}`,
    agent: null, tags: {}, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini',
    provider: 'openai', prompt_tokens: 100, completion_tokens: 40, cached_tokens: 0, cache_write_tokens: 0,
    cost_nano: cost, billed_nano: Math.round(cost * 1.3), decision: 'allowed', reason: null, status: 200, latency_ms: 10,
    idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
    ...over,
  };
}

export async function seedLedger(rows: UsageRecord[], dataDir = join(tempDir('tollgate-seed-'), 'data')): Promise<string> {
  const ledger = new Ledger(dataDir, 'UTC', false);
  for (let i = 0; i < rows.length; i += 5000) {
    const batch = rows.slice(i, i + 5000).map((r) => ledger.append(r));
    await ledger.flush();
    await Promise.all(batch);
  }
  await ledger.close();
  return dataDir;
}

/**
 * The instant report tests pretend it is: the proxy they start runs its
 * clock from here (TOLLGATE_CLOCK_START), and rows are seeded relative to it,
 * so which month a row falls in never depends on the day the suite runs.
 */
export const REPORT_NOW = Date.parse('2026-06-17T12:00:00Z');

/** YYYY-MM of the month before the one containing `now` (UTC). */
export function previousMonth(now: number): { month: string; start: number; days: number } {
  const d = new Date(now);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return { month: new Date(start).toISOString().slice(0, 7), start, days: Math.round((end - start) / DAY) };
}
