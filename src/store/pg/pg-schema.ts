import type { PoolClient } from 'pg';

// The cluster ledger's tables in PostgreSQL, created and migrated by
// Tollgate itself: versioned migrations applied in order under an advisory
// lock (two nodes starting together migrate once), recorded in
// tollgate_migrations.
//
// Citus-ready: every table that grows is keyed by `customer` first
// (usage rows, report days, report customers), so each can be distributed
// by customer (`create_distributed_table(..., 'customer')`, colocated) and
// every report or per-customer listing runs on one worker; the migrations
// and meta tables are tiny reference tables. Text keys use the "C"
// collation: byte order, as LMDB orders its keys, so cursors and listings
// come out in the same order from either store.

/** Advisory lock key of the migrations (any constant; "TGMG"). */
const MIGRATION_LOCK = 0x54474d47;
/** Advisory lock key of partition creation ("TGPT"). */
const PARTITION_LOCK = 0x54475054;

export interface Migration { version: number; name: string; sql: string }

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'usage rows (partitioned by month), report days, report customers',
    sql: `
      CREATE TABLE tollgate_meta (
        key text COLLATE "C" PRIMARY KEY,
        value text NOT NULL
      );
      -- Identifies this database: a node's shipping cursor belongs to one (a new, empty database is shipped to from the start).
      INSERT INTO tollgate_meta (key, value) VALUES ('ledger_id', md5(random()::text || clock_timestamp()::text));

      CREATE TABLE tollgate_usage (
        customer text COLLATE "C" NOT NULL,
        ts timestamptz NOT NULL,
        request_id text COLLATE "C" NOT NULL,
        node text NOT NULL,
        agent text COLLATE "C",
        session text,
        tags jsonb NOT NULL,
        endpoint text NOT NULL,
        model_requested text COLLATE "C",
        model text COLLATE "C",
        provider text,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        cost_nano bigint NOT NULL,
        billed_nano bigint NOT NULL,
        decision text NOT NULL,
        reason text,
        status integer NOT NULL,
        latency_ms double precision NOT NULL,
        idempotency_key text,
        price_source text,
        usage_source text,
        -- Fields most rows lack (attempts, unit, units, shadow_exceeded, cache_write_1h_tokens, original_*), as the row has them.
        extra jsonb,
        shipped_at timestamptz NOT NULL DEFAULT now(),
        -- request_id makes a row unique; customer (the distribution column) and ts (the partition key) must be in every unique key.
        PRIMARY KEY (customer, ts, request_id)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX tollgate_usage_ts ON tollgate_usage (ts, request_id);

      CREATE TABLE tollgate_report_days (
        customer text COLLATE "C" NOT NULL,
        dim text COLLATE "C" NOT NULL,
        day date NOT NULL,
        value text COLLATE "C" NOT NULL,
        calls bigint NOT NULL,
        blocked bigint NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cost_nano bigint NOT NULL,
        billed_nano bigint NOT NULL,
        shadow_exceeded bigint NOT NULL,
        PRIMARY KEY (customer, dim, day, value)
      );
      CREATE INDEX tollgate_report_days_day ON tollgate_report_days (dim, day);

      CREATE TABLE tollgate_report_customers (
        customer text COLLATE "C" PRIMARY KEY,
        first_ts timestamptz NOT NULL,
        last_ts timestamptz NOT NULL
      );
    `,
  },
];

/** Applies the migrations this database has not had yet; returns the versions applied. */
export async function migrate(client: PoolClient): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS tollgate_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM tollgate_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO tollgate_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}

/** The month (UTC) holding `ts`, as its first instant and the next month's. */
export function monthBounds(ts: number): { start: number; end: number; name: string } {
  const d = new Date(ts);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1), name: `tollgate_usage_y${y}m${String(m + 1).padStart(2, '0')}` };
}

/**
 * Creates the monthly partitions holding these instants, if missing. Under
 * an advisory lock in one transaction: two nodes shipping the first rows of
 * a month create its partition once.
 */
export async function ensurePartitions(client: PoolClient, instants: Iterable<number>): Promise<string[]> {
  const months = new Map<string, { start: number; end: number }>();
  for (const ts of instants) {
    const b = monthBounds(ts);
    months.set(b.name, b);
  }
  if (!months.size) return [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
    for (const [name, { start, end }] of months) {
      await client.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF tollgate_usage
        FOR VALUES FROM ('${new Date(start).toISOString()}') TO ('${new Date(end).toISOString()}')`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
  return [...months.keys()];
}
