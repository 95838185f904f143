import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { configProblems as problems } from '../helpers/config-problems.js';

describe('cluster ledger config (ledger.postgres)', () => {
  it('is off by default and ships in batches of 2000, sweeping 15 minutes back every 5 s', () => {
    const c = parseConfig({}, {});
    expect(c.ledger.postgres).toBeUndefined();
    expect(c.ledger.shipping).toEqual({ batchRows: 2000, interval: 200, lookback: 900_000, sweep: 5_000, maxBackoff: 30_000 });
  });

  it('takes a postgres URL from the environment and durations as strings', () => {
    const c = parseConfig({ ledger: { postgres: '${PG_URL}', shipping: { lookback: '30m', sweep: '10s' } } }, { PG_URL: 'postgresql://tg:pw@db:5432/tollgate' });
    expect(c.ledger.postgres).toBe('postgresql://tg:pw@db:5432/tollgate');
    expect(c.ledger.shipping).toMatchObject({ lookback: 1_800_000, sweep: 10_000 });
  });

  it('names the bad field', () => {
    expect(problems({ ledger: { postgres: 'mysql://db/x' } })[0]).toMatch(/^ledger\.postgres: a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(problems({ ledger: { shipping: { batchRows: 0 } } })[0]).toMatch(/^ledger\.shipping\.batchRows: /);
    expect(problems({ ledger: { shipping: { every: '1s' } } })[0]).toMatch(/^ledger\.shipping\.every: unknown field/);
  });
});
