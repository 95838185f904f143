import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Ledger } from '../../src/store/ledger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { usageRow } from '../reports/seed-ledger.js';

// The ledger keeps a scope's aggregates per period of every zone budgets use,
// so a budget in Asia/Kolkata is seeded from its own month, not from days of
// the global zone (which Kolkata's 5:30 offset cuts through). A period that
// began before the ledger kept a zone (a zone just configured, a quarter
// after an upgrade) is summed from the rows instead: exact either way.

const IN = 'Asia/Kolkata';
let ledger: Ledger | undefined;
afterEach(async () => { await ledger?.close(); ledger = undefined; });

describe('aggregates per time zone', () => {
  it('splits spend at Kolkata midnight, not UTC midnight', async () => {
    const dir = join(tempDir('tollgate-zones-'), 'data');
    ledger = new Ledger(dir, 'UTC', false, {}, { zones: [IN] });
    const now = Date.now();
    // Kolkata's next month starts at 18:30 UTC of the last day: a row 1 min either side of it.
    const boundary = new Date(now);
    const nextMonthIn = Date.UTC(boundary.getUTCFullYear(), boundary.getUTCMonth() + 2, 1) - 5.5 * 3_600_000;
    await Promise.all([
      ledger.append(usageRow({ ts: nextMonthIn - 60_000, customer: 'c', billed_nano: 100 })),
      ledger.append(usageRow({ ts: nextMonthIn + 60_000, customer: 'c', billed_nano: 7 })),
    ]);
    expect(ledger.periodTotal('c', null, 'month', nextMonthIn - 1, IN).billed_nano).toBe(100);
    expect(ledger.periodTotal('c', null, 'month', nextMonthIn, IN).billed_nano).toBe(7);
    // In UTC both rows are in the same month.
    expect(ledger.periodTotal('c', null, 'month', nextMonthIn, 'UTC').billed_nano).toBe(107);
    expect(ledger.keepsAggregate('month', nextMonthIn, IN)).toBe(true);
    expect(ledger.periodTotal('c', null, 'total', nextMonthIn, IN).billed_nano).toBe(107);
  });

  it('sums the rows of a period that began before the ledger kept its zone', async () => {
    const dir = join(tempDir('tollgate-zones-'), 'data');
    ledger = new Ledger(dir, 'UTC', false);
    const now = Date.now();
    await Promise.all([
      ledger.append(usageRow({ ts: now - 1000, customer: 'c', agent: 'bot', billed_nano: 5 })),
      ledger.append(usageRow({ ts: now - 500, customer: 'c', billed_nano: 3 })),
    ]);
    await ledger.close();
    ledger = new Ledger(dir, 'UTC', false, {}, { zones: [IN] }); // the zone is configured now
    expect(ledger.keepsAggregate('year', now, IN)).toBe(false);
    expect(ledger.aggregateAt('c:c', 'year', now, IN).billed_nano).toBe(0);
    expect(ledger.periodTotal('c', null, 'year', now, IN).billed_nano).toBe(8);
    expect(ledger.periodTotal('c', 'bot', 'year', now, IN).billed_nano).toBe(5);
    // Quarter and year of the global zone likewise (ledgers before them kept only day, week, month and total).
    expect(ledger.periodTotal('c', null, 'quarter', now).billed_nano).toBe(8);
  });
});

describe('a zone dropped from the config and added back', () => {
  it('counts its periods from its return, since its aggregates missed the rows in between', async () => {
    const dir = join(tempDir('tollgate-zones-'), 'data');
    ledger = new Ledger(dir, 'UTC', false, {}, { zones: [IN] });
    const now = Date.now();
    await ledger.append(usageRow({ ts: now, customer: 'c', billed_nano: 1 }));
    await ledger.close();
    ledger = new Ledger(dir, 'UTC', false, {}, { zones: [] }); // Kolkata no longer used
    await ledger.append(usageRow({ ts: now + 1, customer: 'c', billed_nano: 2 }));
    await ledger.close();
    ledger = new Ledger(dir, 'UTC', false, {}, { zones: [IN] });
    expect(ledger.aggregateAt('c:c', 'year', now + 1, IN).billed_nano).toBe(1); // missed the row in between
    expect(ledger.keepsAggregate('year', now + 1, IN)).toBe(false);
    expect(ledger.periodTotal('c', null, 'year', now + 1, IN).billed_nano).toBe(3);
  });
});
