import pg from 'pg';
import { PeriodClock } from '../../budget/periods.js';
import type { UsageQuery } from '../ledger.js';
import { collectReportDelta, emptyCounters, type Dimension, type ReportCounters, type ReportDelta } from '../report-indexes.js';
import { MemoryReportSource, type DayEntry } from '../report-source.js';
import type { UsageRecord } from '../usage-record.js';
import { ensurePartitions, migrate, monthBounds } from './pg-schema.js';
import { INSERT_ROWS, ROW_COLUMNS, fromPgRow, insertParams } from './pg-rows.js';

// The cluster ledger in PostgreSQL (config `ledger.postgres`): every node
// ships its usage rows here (ledger-shipper.ts) and every node's admin API,
// CLI and dashboard read the whole cluster's rows and reports from here.
//
// Exactly once: a batch is one transaction — its rows inserted with
// ON CONFLICT DO NOTHING on (customer, ts, request_id), then the report
// aggregates increased by the rows that statement actually inserted — so
// shipping a row again (a retry after an unknown outcome, a restart before
// the cursor moved) changes nothing, and an aborted batch changes nothing.

export interface PgLedgerOptions {
  url: string;
  /** The ledger's zone: report days are its calendar days, as on the node. */
  timeZone: string;
  /** This node's name, recorded on the rows it ships. */
  node: string;
  /** Connections this process may open. */
  poolSize?: number;
  /** Longest a statement may run (ms). */
  statementTimeoutMs?: number;
  log?: (level: 'error' | 'warn' | 'info', msg: string) => void;
}

/** PostgreSQL is unreachable or failed a statement: reads answer 503 cluster_ledger_unavailable. */
export class ClusterLedgerError extends Error {
  readonly code = 'TG_CLUSTER_LEDGER_UNAVAILABLE';
}

/** Rows per page when a reader walks rows (usage listings, CSV exports). */
const PAGE_ROWS = 2000;

const COUNTER_FIELDS = ['calls', 'blocked', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_nano', 'billed_nano', 'shadow_exceeded'] as const;

const UPSERT_DAYS = `INSERT INTO tollgate_report_days (customer, dim, day, value, ${COUNTER_FIELDS.join(', ')})
  SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], ${COUNTER_FIELDS.map((_, i) => `$${i + 5}::bigint[]`).join(', ')})
  ON CONFLICT (customer, dim, day, value) DO UPDATE SET ${COUNTER_FIELDS.map((f) => `${f} = tollgate_report_days.${f} + EXCLUDED.${f}`).join(', ')}`;

const UPSERT_CUSTOMERS = `INSERT INTO tollgate_report_customers (customer, first_ts, last_ts)
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])
  ON CONFLICT (customer) DO UPDATE SET first_ts = LEAST(tollgate_report_customers.first_ts, EXCLUDED.first_ts),
    last_ts = GREATEST(tollgate_report_customers.last_ts, EXCLUDED.last_ts)`;

/** Each counter summed over a group (as text: a bigint sum is numeric). */
const SUMS = COUNTER_FIELDS.map((f) => `sum(d.${f})::text AS ${f}`).join(', ');

export class PgLedger {
  readonly #pool: pg.Pool;
  readonly #clock: PeriodClock;
  readonly #options: PgLedgerOptions;
  #ready: Promise<string> | undefined;
  /** Monthly partitions known to exist. */
  readonly #months = new Set<string>();

  constructor(options: PgLedgerOptions) {
    this.#options = options;
    this.#clock = new PeriodClock(options.timeZone);
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 2,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 10_000,
      statement_timeout: options.statementTimeoutMs ?? 60_000,
      application_name: `tollgate ${options.node}`,
    });
    // An idle connection that breaks (the server restarted) is reported here; unhandled, it would kill the process.
    this.#pool.on('error', (err) => options.log?.('warn', `cluster ledger: idle PostgreSQL connection failed: ${err.message}`));
  }

  /** Calendar day (YYYY-MM-DD) of `ts` in the ledger's zone. */
  day(ts: number): string {
    return this.#clock.key('day', ts).slice(4);
  }

  /** Creates or migrates the tables (once per process) and answers this database's ledger id. */
  ready(): Promise<string> {
    this.#ready ??= this.#withClient(async (c) => {
      await migrate(c);
      return (await c.query<{ value: string }>("SELECT value FROM tollgate_meta WHERE key = 'ledger_id'")).rows[0]!.value;
    });
    // A failure (database down) is retried by the next caller.
    this.#ready.catch(() => (this.#ready = undefined));
    return this.#ready;
  }

  async #withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new ClusterLedgerError(`cannot connect to the cluster ledger (PostgreSQL): ${(err as Error).message}`);
    }
    let broken: unknown;
    try {
      return await fn(client);
    } catch (err) {
      broken = err;
      throw err instanceof ClusterLedgerError ? err : new ClusterLedgerError(`cluster ledger (PostgreSQL): ${(err as Error).message}`);
    } finally {
      // A connection whose statement failed may be mid-transaction or dead: never reuse it.
      client.release(broken !== undefined ? true : undefined);
    }
  }

  /**
   * Ships `rows` in one transaction; answers how many were new (the others
   * were already in the database). Rows appear in reads only once committed.
   */
  async ship(rows: readonly UsageRecord[]): Promise<{ inserted: number }> {
    await this.ready();
    const unique = dedupe(rows);
    if (!unique.length) return { inserted: 0 };
    return this.#withClient(async (c) => {
      const missing = unique.map((r) => r.ts).filter((ts) => !this.#months.has(monthBounds(ts).name));
      if (missing.length) for (const name of await ensurePartitions(c, missing)) this.#months.add(name);
      await c.query('BEGIN');
      try {
        const res = await c.query<{ request_id: string }>(INSERT_ROWS, insertParams(unique, this.#options.node));
        const ids = new Set(res.rows.map((r) => r.request_id));
        const inserted = ids.size === unique.length ? unique : unique.filter((r) => ids.has(r.request_id));
        if (inserted.length) await this.#addToReports(c, collectReportDelta(inserted, this.#clock));
        await c.query('COMMIT');
        return { inserted: inserted.length };
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** The report aggregates of the rows a batch inserted, in key order (two nodes' batches lock shared keys in one order: no deadlock). */
  async #addToReports(c: pg.PoolClient, delta: ReportDelta): Promise<void> {
    const entries: [string, string, string, string, ReportCounters][] = [];
    for (const d of delta.days) {
      entries.push([d.customer, 'all', d.day, '', d.all]);
      for (const dim of ['model', 'agent', 'tag'] as const) for (const [value, counters] of d[dim]) entries.push([d.customer, dim, d.day, value, counters]);
    }
    entries.sort((a, b) => cmpKey(a, b));
    await c.query(UPSERT_DAYS, [
      entries.map((e) => e[0]), entries.map((e) => e[1]), entries.map((e) => e[2]), entries.map((e) => e[3]),
      ...COUNTER_FIELDS.map((f) => entries.map((e) => e[4][f])),
    ]);
    const customers = [...delta.customers].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    await c.query(UPSERT_CUSTOMERS, [
      customers.map(([id]) => id), customers.map(([, t]) => new Date(t[0]).toISOString()), customers.map(([, t]) => new Date(t[1]).toISOString()),
    ]);
  }

  /** Ids (with their ts) of the rows this node shipped with from <= ts < to: the shipper's memory after a restart. */
  async shippedIds(from: number, to: number): Promise<Map<string, number>> {
    await this.ready();
    const res = await this.#withClient((c) => c.query<{ request_id: string; ms: string }>(
      'SELECT request_id, (extract(epoch FROM ts) * 1000)::bigint::text AS ms FROM tollgate_usage WHERE ts >= $1 AND ts < $2 AND node = $3',
      [new Date(from).toISOString(), new Date(to).toISOString(), this.#options.node]));
    return new Map(res.rows.map((r) => [r.request_id, Number(r.ms)]));
  }

  /** Rows oldest first (ts, then request_id), in pages: the same order and cursor as the node's ledger.rows(). */
  async *rows(q: UsageQuery): AsyncGenerator<UsageRecord> {
    await this.ready();
    let cursor: [string, string] | undefined = q.cursor ? [new Date(q.cursor[0]).toISOString(), q.cursor[1]] : undefined;
    for (;;) {
      const params: unknown[] = timeRange(q);
      let where = 'ts >= $1 AND ts < $2';
      if (q.customer !== undefined) {
        params.push(q.customer);
        where += ` AND customer = $${params.length}`;
        if (cursor) {
          params.push(cursor[0], cursor[1]);
          where += ` AND (customer, ts, request_id) > ($3, $4, $5)`;
        }
      } else if (cursor) {
        params.push(cursor[0], cursor[1]);
        where += ' AND (ts, request_id) > ($3, $4)';
      }
      const page = await this.#withClient((c) => c.query(`SELECT ${ROW_COLUMNS} FROM tollgate_usage WHERE ${where} ORDER BY ts, request_id LIMIT ${PAGE_ROWS}`, params));
      for (const r of page.rows) yield fromPgRow(r);
      if (page.rows.length < PAGE_ROWS) return;
      const last = page.rows[page.rows.length - 1]!;
      cursor = [(last.ts as Date).toISOString(), last.request_id as string];
    }
  }

  /** Rows a query would list (the CLI's progress bar). */
  async countRows(q: UsageQuery): Promise<number> {
    await this.ready();
    const params: unknown[] = timeRange(q);
    if (q.customer !== undefined) params.push(q.customer);
    const res = await this.#withClient((c) => c.query(`SELECT count(*) AS n FROM tollgate_usage WHERE ts >= $1 AND ts < $2${q.customer !== undefined ? ' AND customer = $3' : ''}`, params));
    return Number(res.rows[0].n);
  }

  /** One customer's report entries over an inclusive day range (every dimension), as a report source. */
  async customerReports(customer: string, fromDay: string, toDay: string): Promise<MemoryReportSource> {
    await this.ready();
    return this.#withClient(async (c) => {
      const days = await c.query(`SELECT dim, day::text AS day, value, ${COUNTER_FIELDS.join(', ')} FROM tollgate_report_days
        WHERE customer = $1 AND day BETWEEN $2 AND $3`, [customer, fromDay, toDay]);
      const seen = await c.query('SELECT first_ts, last_ts FROM tollgate_report_customers WHERE customer = $1', [customer]);
      const entries: DayEntry[] = days.rows.map((r) => ({ customer, dim: r.dim as Dimension, day: r.day, value: r.value, c: counters(r) }));
      const customers = seen.rows.map((r) => ({ customer, firstTs: (r.first_ts as Date).getTime(), lastTs: (r.last_ts as Date).getTime() }));
      return new MemoryReportSource((ts) => this.day(ts), entries, customers);
    });
  }

  /** Every customer's totals over an inclusive day range (one entry each, on the first day), as a report source. */
  async customerTotals(fromDay: string, toDay: string): Promise<MemoryReportSource> {
    await this.ready();
    return this.#withClient(async (c) => {
      const res = await c.query(`SELECT d.customer, min(rc.first_ts) AS first_ts, min(rc.last_ts) AS last_ts, ${SUMS}
        FROM tollgate_report_days d JOIN tollgate_report_customers rc ON rc.customer = d.customer
        WHERE d.dim = 'all' AND d.day BETWEEN $1 AND $2 GROUP BY d.customer`, [fromDay, toDay]);
      const entries: DayEntry[] = res.rows.map((r) => ({ customer: r.customer, dim: 'all', day: fromDay, value: '', c: counters(r) }));
      const customers = res.rows.map((r) => ({ customer: r.customer as string, firstTs: (r.first_ts as Date).getTime(), lastTs: (r.last_ts as Date).getTime() }));
      return new MemoryReportSource((ts) => this.day(ts), entries, customers);
    });
  }

  /** Ids of every customer the cluster ledger has a row for. */
  async customerIds(): Promise<string[]> {
    await this.ready();
    return this.#withClient(async (c) => (await c.query<{ customer: string }>('SELECT customer FROM tollgate_report_customers ORDER BY customer')).rows.map((r) => r.customer));
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }
}

/** [from, to) of a query as timestamptz parameters ('infinity' when open: PostgreSQL's range ends before JavaScript's). */
function timeRange(q: UsageQuery): [string, string] {
  return [new Date(q.from ?? 0).toISOString(), q.to === undefined || q.to >= 8.2e15 ? 'infinity' : new Date(q.to).toISOString()];
}

function counters(r: Record<string, unknown>): ReportCounters {
  const c = emptyCounters();
  for (const f of COUNTER_FIELDS) c[f] = Number(r[f] ?? 0);
  return c;
}

/** A row twice in one batch would be inserted once but counted twice: keep the first. */
function dedupe(rows: readonly UsageRecord[]): UsageRecord[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.request_id) && (seen.add(r.request_id), true));
}

function cmpKey(a: readonly [string, string, string, string, unknown], b: readonly [string, string, string, string, unknown]): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return (a[i] as string) < (b[i] as string) ? -1 : 1;
  return 0;
}
