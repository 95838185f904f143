import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { Ledger } from '../../../src/store/ledger.js';
import { LedgerShipper } from '../../../src/store/pg/ledger-shipper.js';
import { PgLedger } from '../../../src/store/pg/pg-ledger.js';
import { ShipCursor } from '../../../src/store/pg/ship-cursor.js';
import { toPublicRow, type UsageRecord } from '../../../src/store/usage-record.js';
import { describeWithPostgres, startPostgres, type PostgresProcess } from '../../helpers/postgres-process.js';
import { tempDir } from '../../helpers/temp-dir.js';

// Shipping one node's ledger to a real PostgreSQL, step by step: every row
// once, rows committed late (a long call's ts is its start), a restart that
// forgets what it shipped, and an outage in the middle.

const T0 = Date.parse('2031-06-18T12:00:00Z');
let seq = 0;
function row(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    request_id: `req_ship${String(seq++).padStart(6, '0')}`, ts: T0 + seq * 1000, customer: 'acme',
    agent: null, tags: {}, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini',
    provider: 'openai', prompt_tokens: 10, completion_tokens: 5, cached_tokens: 0, cache_write_tokens: 0,
    cost_nano: 1_000, billed_nano: 1_500, decision: 'allowed', reason: null, status: 200, latency_ms: 3,
    idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
    ...over,
  };
}

describeWithPostgres('ledger shipper → PostgreSQL', () => {
  let server: PostgresProcess;
  let dir: string;
  let ledger: Ledger;
  let db: PgLedger;
  let cursor: ShipCursor;
  let sql: pg.Pool;
  let clock = T0;
  const shipper = () => new LedgerShipper(ledger, db, cursor, { batchRows: 7, intervalMs: 10, lookbackMs: 600_000, sweepMs: 1_000, maxBackoffMs: 100, now: () => clock });
  /** Steps until the shipper is idle with a sweep behind it. */
  const drain = async (s: LedgerShipper) => {
    clock += 2_000;
    for (let i = 0; i < 100; i++) if ((await s.step()) === 'idle') return;
    throw new Error('shipper never caught up');
  };
  const count = async () => Number((await sql.query('SELECT count(*) AS n FROM tollgate_usage')).rows[0].n);
  const calls = async () => Number((await sql.query("SELECT coalesce(sum(calls), 0) AS n FROM tollgate_report_days WHERE dim = 'all'")).rows[0].n);

  beforeAll(async () => {
    server = await startPostgres();
    dir = tempDir();
    ledger = new Ledger(dir);
    db = new PgLedger({ url: server.url, timeZone: 'UTC', node: 'n1' });
    cursor = new ShipCursor(dir);
    sql = new pg.Pool({ connectionString: server.url, max: 1 });
    sql.on('error', () => undefined);
  });
  afterAll(async () => {
    await sql?.end();
    await db?.close();
    await cursor?.close();
    await ledger?.close();
    await server?.destroy();
  });

  it('ships every committed row once, with its report aggregates', async () => {
    await Promise.all(Array.from({ length: 30 }, () => ledger.append(row())));
    const s = shipper();
    await drain(s);
    expect(await count()).toBe(30);
    expect(await calls()).toBe(30);
    expect(s.stats).toMatchObject({ shipped: 30, duplicates: 0, lagRows: 0 });
  });

  it('reads back each row field for field as the local ledger has it', async () => {
    const odd = row({
      agent: 'bot', session: 'sess-1', tags: { team: 'a', env: 'prod' }, attempts: [{ target: 'openai/gpt-4o', error: 'timeout' }],
      unit: 'image', units: 3, shadow_exceeded: true, cache_write_1h_tokens: 4, original_cost_nano: 900, original_billed_nano: 1_200,
      decision: 'blocked', reason: 'budget_exceeded', status: 402, latency_ms: 1.5, idempotency_key: 'idem-1', cost_nano: 123_456_789_012,
    });
    await ledger.append(odd);
    await drain(shipper());
    const local = ledger.get(odd.ts, odd.request_id)!;
    const rows = [];
    for await (const r of db.rows({ customer: 'acme', from: odd.ts, to: odd.ts + 1 })) rows.push(r);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual(local);
    expect(toPublicRow(rows[0]!)).toEqual(toPublicRow(local));
  });

  it('ships a row committed after rows with later ts (a long call), found by the sweep', async () => {
    const s = shipper();
    await drain(s);
    const before = await count();
    await ledger.append(row({ ts: T0 + 500 })); // started before every row shipped so far
    await drain(s);
    expect(await count()).toBe(before + 1);
    expect(s.stats.shipped).toBe(1);
  });

  it('after a restart, knows from the database what it shipped in the window and sends nothing again', async () => {
    const rowsBefore = await count();
    const s = shipper(); // a new process: it learns the ids it shipped from the database
    await drain(s);
    expect(s.stats).toMatchObject({ shipped: 0, duplicates: 0 });
    expect(await count()).toBe(rowsBefore);
  });

  it('counts a batch sent twice (its COMMIT answer lost) once: rows and report aggregates', async () => {
    const rows = [row(), row({ agent: 'x', tags: { k: 'v' } })];
    await Promise.all(rows.map((r) => ledger.append(r)));
    expect(await db.ship(rows)).toEqual({ inserted: 2 });
    const rowsBefore = await count();
    const callsBefore = await calls();
    const tagged = async () => Number((await sql.query("SELECT coalesce(sum(calls), 0) AS n FROM tollgate_report_days WHERE dim = 'tag' AND value = 'k=v'")).rows[0].n);
    expect(await tagged()).toBe(1);
    expect(await db.ship(rows)).toEqual({ inserted: 0 });
    expect(await db.ship([rows[1]!, rows[1]!])).toEqual({ inserted: 0 });
    expect(await count()).toBe(rowsBefore);
    expect(await calls()).toBe(callsBefore);
    expect(await tagged()).toBe(1);
    const s = shipper(); // and the shipper skips them too
    await drain(s);
    expect(await count()).toBe(rowsBefore);
  });

  it('survives a database outage: rows committed meanwhile ship once it is back', async () => {
    const s = shipper();
    await drain(s);
    const before = await count();
    await server.stop();
    await Promise.all(Array.from({ length: 10 }, () => ledger.append(row())));
    await expect(s.step()).rejects.toThrow();
    expect(s.stats.connected).toBe(false);
    await server.start();
    for (let i = 0; i < 50; i++) {
      try {
        clock += 2_000;
        if ((await s.step()) === 'idle') break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(await count()).toBe(before + 10);
    expect(s.stats.shipped).toBe(10);
  });

  it('keeps the schema versioned and the rows in monthly partitions, created as months come', async () => {
    await ledger.append(row({ ts: Date.parse('2031-08-02T00:00:00Z') }));
    await drain(shipper());
    const versions = (await sql.query('SELECT version FROM tollgate_migrations ORDER BY version')).rows.map((r) => r.version);
    expect(versions).toEqual([1]);
    const parts = (await sql.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tollgate_usage' ORDER BY 1")).rows.map((r) => r.relname);
    expect(parts).toEqual(['tollgate_usage_y2031m06', 'tollgate_usage_y2031m08']);
    const where = (await sql.query("SELECT tableoid::regclass::text AS t, count(*) AS n FROM tollgate_usage GROUP BY 1 ORDER BY 1")).rows;
    expect(where.map((r) => r.t)).toEqual(parts);
    // Every unique key holds the distribution column (customer) and the partition key (ts).
    const pk = (await sql.query("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'tollgate_usage'::regclass AND contype = 'p'")).rows[0].d;
    expect(pk).toBe('PRIMARY KEY (customer, ts, request_id)');
    // A second node migrating the same database changes nothing.
    const other = new PgLedger({ url: server.url, timeZone: 'UTC', node: 'n2' });
    expect(await other.ready()).toBe(await db.ready());
    await other.close();
    expect((await sql.query('SELECT count(*) AS n FROM tollgate_migrations')).rows[0].n).toBe('1');
  });
});
