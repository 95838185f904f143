import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Ledger } from '../../src/store/ledger.js';
import { agentScopeKey, customerScopeKey, type Aggregate } from '../../src/store/aggregates.js';
import { periodKey, periodWindow, type PeriodKind } from '../../src/budget/periods.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';

// One ledger batch (appends of one event turn) is summed per day and customer
// before it is written; rows of a batch that straddles midnight, a week and a
// month must still land in their own periods, and aggregates must equal the rows.

let ledger: Ledger | undefined;
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
});

let seq = 0;
function row(over: Partial<UsageRecord> & { ts: number; customer: string }): UsageRecord {
  return {
    request_id: `req_batch${String(seq++).padStart(8, '0')}`,
    agent: null, tags: {}, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini',
    provider: 'openai', prompt_tokens: 10, completion_tokens: 5, cached_tokens: 0, cache_write_tokens: 0,
    cost_nano: 1_000, billed_nano: 1_500, decision: 'allowed', reason: null, status: 200, latency_ms: 3,
    idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
    ...over,
  };
}

/** What the aggregates must hold, computed from the rows one by one. */
function expected(rows: UsageRecord[], scope: (r: UsageRecord) => string | null, tz: string): Map<string, Aggregate> {
  const out = new Map<string, Aggregate>();
  for (const r of rows) {
    const s = scope(r);
    if (!s) continue;
    for (const kind of ['day', 'week', 'month', 'total'] as PeriodKind[]) {
      const k = `${s}|${periodKey(kind, periodWindow(kind, r.ts, tz), tz)}`;
      const a = out.get(k) ?? { cost_nano: 0, billed_nano: 0, tokens: 0, calls: 0, blocked: 0 };
      if (r.decision === 'allowed') {
        a.cost_nano += r.cost_nano;
        a.billed_nano += r.billed_nano;
        a.tokens += r.prompt_tokens + r.completion_tokens;
        a.calls++;
      } else a.blocked++;
      out.set(k, a);
    }
  }
  return out;
}

describe('ledger batches', () => {
  for (const tz of ['UTC', 'America/New_York']) {
    it(`keeps aggregates equal to the rows when one batch straddles a day, week, month and year end (${tz})`, async () => {
      const l = (ledger = new Ledger(tempDir('tg-batch-'), tz, false));
      // 2026-12-31 is a Thursday; New Year's Eve and New Year's Day in the ledger's zone.
      const eve = Date.parse('2026-12-31T12:00:00Z') + (tz === 'UTC' ? 0 : 5 * 3_600_000);
      const day = 86_400_000;
      const rows = [
        row({ customer: 'acme', ts: eve }),
        row({ customer: 'acme', ts: eve + day, agent: 'bot' }),
        row({ customer: 'acme', ts: eve + 1, agent: 'bot', decision: 'blocked', cost_nano: 0, billed_nano: 0, status: 402 }),
        row({ customer: 'beta', ts: eve + day + 5, cost_nano: 7, billed_nano: 9 }),
        row({ customer: 'acme', ts: eve + 4 * day, agent: 'other' }), // the next ISO week
        row({ customer: 'acme', ts: eve + 2 }),
      ];
      await Promise.all(rows.map((r) => l.append(r)));
      const want = new Map([
        ...expected(rows, (r) => customerScopeKey(r.customer), tz),
        ...expected(rows, (r) => (r.agent ? agentScopeKey(r.customer, r.agent) : null), tz),
      ]);
      expect(want.size).toBeGreaterThan(20);
      for (const [k, agg] of want) {
        const [scope, period] = k.split('|') as [string, string];
        expect(l.aggregate(scope, period), k).toEqual(agg);
      }
      // A second batch adds to what the first wrote.
      await Promise.all(rows.map((r) => l.append({ ...r, request_id: `${r.request_id}b` })));
      for (const [k, agg] of want) {
        const [scope, period] = k.split('|') as [string, string];
        expect(l.aggregate(scope, period), k).toEqual({ cost_nano: 2 * agg.cost_nano, billed_nano: 2 * agg.billed_nano, tokens: 2 * agg.tokens, calls: 2 * agg.calls, blocked: 2 * agg.blocked });
      }
    });
  }

  it('reads rows and aggregates a ledger wrote before values shared their structures, and keeps writing after them', async () => {
    const dir = tempDir('tg-old-format-');
    const old = row({ customer: 'acme', ts: Date.parse('2026-03-01T10:00:00Z'), tags: { team: 'a' } });
    // An older Tollgate: msgpack values with their property names inline.
    const env = open({ path: join(dir, 'tollgate.lmdb'), maxDbs: 16, compression: false, noSync: true });
    const usage = env.openDB({ name: 'usage', encoding: 'msgpack' });
    const aggregates = env.openDB({ name: 'aggregates', encoding: 'msgpack' });
    await env.transaction(() => {
      usage.put([old.ts, old.request_id], old);
      aggregates.put([customerScopeKey('acme'), 'total'], { cost_nano: 1_000, billed_nano: 1_500, tokens: 15, calls: 1, blocked: 0 });
    });
    await env.close();

    const l = (ledger = new Ledger(dir, 'UTC', false));
    const fresh = row({ customer: 'acme', ts: old.ts + 1000, agent: 'bot' });
    await l.append(fresh);
    expect([...l.rows({ customer: undefined })]).toEqual([old, fresh]);
    expect(l.get(old.ts, old.request_id)).toEqual(old);
    expect(l.aggregate(customerScopeKey('acme'), 'total')).toEqual({ cost_nano: 2_000, billed_nano: 3_000, tokens: 30, calls: 2, blocked: 0 });
  });
});

describe('issued keys\' aggregates', () => {
  const T = Date.parse('2031-06-18T12:00:00Z');

  it('rows naming a key add to its aggregate; keyPeriodTotal equals the sum of its rows, from the aggregate or (an older ledger) from the rows', async () => {
    const dir = join(tempDir('tollgate-key-agg-'), 'data');
    // A ledger opened with no zones (a reader, or a ledger from before key aggregates) keeps no keys-since marker.
    ledger = new Ledger(dir, 'UTC');
    const before = [row({ ts: T - 3_600_000, customer: 'acme', key_id: 'key_a' }), row({ ts: T - 3_500_000, customer: 'acme' })];
    await ledger.commitRows(before);
    expect(ledger.keyPeriodTotal('acme', 'key_a', T - 7_200_000, 'day', T)).toMatchObject({ calls: 1, billed_nano: 1_500 });
    await ledger.close();

    // The server's threads open it naming their zones: key aggregates start now; older periods are summed from rows.
    ledger = new Ledger(dir, 'UTC', true, {}, { zones: ['UTC'] });
    await ledger.commitRows([
      row({ ts: T, customer: 'acme', key_id: 'key_a', billed_nano: 2_000 }),
      row({ ts: T + 1, customer: 'acme', key_id: 'key_b' }),
      row({ ts: T + 2, customer: 'acme', key_id: 'key_a', decision: 'refused', status: 402, cost_nano: 0, billed_nano: 0 }),
    ]);
    const today = ledger.keyPeriodTotal('acme', 'key_a', T - 7_200_000, 'day', T + 10);
    expect(today).toEqual(ledger.sumRows('acme', null, Date.parse('2031-06-18T00:00:00Z'), Date.parse('2031-06-19T00:00:00Z'), 'key_a'));
    expect(today).toMatchObject({ calls: 2, billed_nano: 3_500 });
    // A key issued after the marker reads its aggregate, which holds only rows since the marker.
    expect(ledger.aggregate('k:key_b', periodKey('day', periodWindow('day', T, 'UTC'), 'UTC'))).toMatchObject({ calls: 1 });
    expect(ledger.keyPeriodTotal('acme', 'key_b', Date.now(), 'day', T + 10)).toMatchObject({ calls: 1 });
  });
});
