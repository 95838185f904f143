import { open, type RootDatabase, type Database } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PeriodClock, type PeriodKind } from '../budget/periods.js';
import { agentScopeKey, customerScopeKey, emptyAggregate, type Aggregate } from './aggregates.js';
import type { UsageRecord } from './usage-record.js';
import { ReportIndexes, type ReportIndexOptions } from './report-indexes.js';

const PERIODS: PeriodKind[] = ['day', 'week', 'month', 'total'];

export interface IdempotencyRecord { request_id: string; ts: number }

export interface UsageQuery {
  customer?: string;
  from?: number; // ms, inclusive
  to?: number;   // ms, exclusive
  cursor?: [number, string];
}

/**
 * The durable usage ledger on LMDB. Appends from one event turn share one
 * transaction (rows, customer index, aggregates and idempotency keys
 * together), and each append's promise resolves once that transaction has
 * committed — callers await it before the client sees the end of its answer.
 */
export class Ledger {
  readonly #root: RootDatabase;
  readonly #usage: Database<UsageRecord, [number, string]>;
  readonly #byCustomer: Database<Buffer, [string, number, string]>;
  readonly #aggregates: Database<Aggregate, [string, string]>;
  readonly #idempotency: Database<IdempotencyRecord, [string, string]>;
  readonly #clock: PeriodClock;
  /** Billing-report indexes, written in the same transaction as the rows. */
  readonly reports: ReportIndexes;
  #pending: UsageRecord[] = [];
  /** The commit the pending rows will share: one promise per batch, not one per row. */
  #batch: { done: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  commitSamples: number[] = [];

  /**
   * `sync: true` flushes every commit to disk (LMDB's overlapping sync), so
   * rows survive power loss. `false` leaves write-back to the OS: rows still
   * survive any process crash (kill -9, OOM) because a commit is in the page
   * cache before the client is answered, but an OS crash may lose the last
   * seconds; it roughly doubles ledger throughput.
   */
  constructor(dataDir: string, timeZone = 'UTC', sync = true, reportOptions: ReportIndexOptions = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.#root = open({ path: join(dataDir, 'tollgate.lmdb'), maxDbs: 16, compression: false, noSync: !sync });
    this.#usage = this.#root.openDB({ name: 'usage', ...RECORDS });
    this.#byCustomer = this.#root.openDB({ name: 'usage_by_customer', encoding: 'binary' });
    this.#aggregates = this.#root.openDB({ name: 'aggregates', ...RECORDS });
    this.#idempotency = this.#root.openDB({ name: 'idempotency', ...RECORDS });
    this.#clock = new PeriodClock(timeZone);
    this.reports = new ReportIndexes(this.#root, this.#clock, reportOptions);
  }

  append(row: UsageRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('ledger is closed'));
    this.#pending.push(row);
    if (!this.#batch) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#batch = { done, resolve, reject };
      setImmediate(() => this.#flush());
    }
    return this.#batch.done;
  }

  #flush(): void {
    const batch = this.#batch;
    const rows = this.#pending;
    this.#batch = undefined;
    this.#pending = [];
    if (!batch) return; // flushed early by flush()
    const started = performance.now();
    const deltas = this.#aggregateDeltas(rows);
    const reportDelta = this.reports.collect(rows);
    const write = () => {
      this.reports.write(reportDelta);
      for (const row of rows) {
        this.#usage.put([row.ts, row.request_id], row);
        this.#byCustomer.put([row.customer, row.ts, row.request_id], EMPTY);
        if (row.idempotency_key && isCharged(row)) {
          this.#idempotency.put([row.customer, row.idempotency_key], { request_id: row.request_id, ts: row.ts });
        }
      }
      for (const { scope, period, agg } of deltas) {
        const cur = this.#aggregates.get([scope, period]) ?? emptyAggregate();
        cur.cost_nano += agg.cost_nano;
        cur.billed_nano += agg.billed_nano;
        cur.tokens += agg.tokens;
        cur.calls += agg.calls;
        cur.blocked += agg.blocked;
        this.#aggregates.put([scope, period], cur);
      }
    };
    const p = this.#root.transaction(write);
    this.#inFlight.add(p);
    p.then(
      () => {
        this.#inFlight.delete(p);
        this.#sample(performance.now() - started);
        batch.resolve();
      },
      (err) => {
        this.#inFlight.delete(p);
        batch.reject(err);
      },
    );
  }

  #sample(ms: number) {
    if (this.commitSamples.length < 4096) this.commitSamples.push(ms);
  }

  /**
   * What a batch adds to each (scope, period) aggregate. Rows are summed per
   * calendar day and customer first: a day lies inside exactly one week and
   * one month, so the period keys are formatted per day, not per row.
   */
  #aggregateDeltas(rows: readonly UsageRecord[]): { scope: string; period: string; agg: Aggregate }[] {
    const days = new Map<number, { ts: number; customers: Map<string, { all: Aggregate; agents: Map<string, Aggregate> }> }>();
    for (const row of rows) {
      const start = this.#clock.window('day', row.ts).start;
      let day = days.get(start);
      if (!day) days.set(start, (day = { ts: row.ts, customers: new Map() }));
      let c = day.customers.get(row.customer);
      if (!c) day.customers.set(row.customer, (c = { all: emptyAggregate(), agents: new Map() }));
      addRow(c.all, row);
      if (row.agent) {
        let a = c.agents.get(row.agent);
        if (!a) c.agents.set(row.agent, (a = emptyAggregate()));
        addRow(a, row);
      }
    }
    const deltas: { scope: string; period: string; agg: Aggregate }[] = [];
    for (const { ts, customers } of days.values()) {
      const periods = PERIODS.map((kind) => this.#clock.key(kind, ts));
      for (const [customer, c] of customers) {
        for (const period of periods) deltas.push({ scope: customerScopeKey(customer), period, agg: c.all });
        for (const [agent, agg] of c.agents) {
          for (const period of periods) deltas.push({ scope: agentScopeKey(customer, agent), period, agg });
        }
      }
    }
    return deltas;
  }

  aggregate(scope: string, period: string): Aggregate {
    return this.#aggregates.get([scope, period]) ?? emptyAggregate();
  }

  /** Aggregate for the period of `kind` containing `now`. */
  aggregateAt(scope: string, kind: PeriodKind, now: number): Aggregate {
    return this.aggregate(scope, this.#clock.key(kind, now));
  }

  /**
   * The committed row of an idempotency key. Reads a fresh snapshot: lmdb-js
   * reuses one read transaction for a whole event turn, and a row another
   * shard committed earlier in this turn must be seen by a copy of its call
   * that has just claimed the key (src/proxy/idempotency-claims.ts).
   */
  findIdempotent(customer: string, key: string, now: number, windowMs: number): IdempotencyRecord | undefined {
    this.#root.resetReadTxn();
    const r = this.#idempotency.get([customer, key]);
    return r && now - r.ts < windowMs ? r : undefined;
  }

  get(ts: number, requestId: string): UsageRecord | undefined {
    return this.#usage.get([ts, requestId]);
  }

  /** Rows oldest first, lazily: memory stays bounded whatever the count. */
  *rows(q: UsageQuery): Generator<UsageRecord> {
    const from = q.from ?? 0;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    if (q.customer !== undefined) {
      const start: [string, number, string] = q.cursor ? [q.customer, q.cursor[0], q.cursor[1] + '\u0000'] : [q.customer, from, ''];
      for (const key of this.#byCustomer.getKeys({ start, end: [q.customer, to, ''] })) {
        const row = this.#usage.get([key[1], key[2]]);
        if (row) yield row;
      }
    } else {
      const start: [number, string] = q.cursor ? [q.cursor[0], q.cursor[1] + '\u0000'] : [from, ''];
      for (const { value } of this.#usage.getRange({ start, end: [to, ''] })) yield value;
    }
  }

  /**
   * Retention: deletes up to `max` usage rows older than `cutoff` with their
   * customer-index keys, in one small transaction (aggregates and report
   * indexes stay). Returns how many went; callers loop with pauses between.
   */
  async deleteRowsBefore(cutoff: number, max: number): Promise<number> {
    const doomed: [number, string, string][] = [];
    for (const { key, value } of this.#usage.getRange({ start: [0, ''], end: [cutoff, ''], limit: max })) doomed.push([key[0], key[1], value.customer]);
    if (!doomed.length) return 0;
    await this.#root.transaction(() => {
      for (const [ts, id, customer] of doomed) {
        this.#usage.remove([ts, id]);
        this.#byCustomer.remove([customer, ts, id]);
      }
    });
    return doomed.length;
  }

  /**
   * Retention of idempotency keys: walks up to `max` keys after `after` and
   * deletes those recorded before `cutoff`. Returns the key to resume from
   * (undefined once the walk reached the end).
   */
  async deleteIdempotencyBefore(cutoff: number, after: [string, string] | undefined, max: number): Promise<{ deleted: number; next: [string, string] | undefined }> {
    const doomed: [string, string][] = [];
    let last: [string, string] | undefined;
    let seen = 0;
    const start: [string, string] = after ? [after[0], after[1] + '\u0000'] : ['', ''];
    for (const { key, value } of this.#idempotency.getRange({ start, limit: max })) {
      seen++;
      last = key;
      if (value.ts < cutoff) doomed.push(key);
    }
    if (doomed.length) await this.#root.transaction(() => { for (const k of doomed) this.#idempotency.remove(k); });
    return { deleted: doomed.length, next: seen === max ? last : undefined };
  }

  /** Number of rows a query would return (a key count, no row is decoded): the CLI's progress bar. */
  countRows(q: UsageQuery): number {
    const from = q.from ?? 0;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    return q.customer !== undefined
      ? this.#byCustomer.getCount({ start: [q.customer, from, ''], end: [q.customer, to, ''] })
      : this.#usage.getCount({ start: [from, ''], end: [to, ''] });
  }

  /** Resolves when everything appended so far is committed. */
  async flush(): Promise<void> {
    if (this.#batch) this.#flush();
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#root.close();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * How the object-valued databases (usage, aggregates, idempotency) encode:
 * msgpack with shared structures — an object's property names are stored
 * once per database (under this key), not in every value, so a row encodes
 * ~2x faster and ~3x smaller (less for each commit to write). Values written
 * before (names inline) still decode; a reader opening these databases
 * itself must pass the same options.
 */
export const RECORDS = { encoding: 'msgpack', sharedStructuresKey: Symbol.for('structures') } as const;

function addRow(agg: Aggregate, row: UsageRecord): void {
  if (row.decision === 'allowed') {
    agg.cost_nano += row.cost_nano;
    agg.billed_nano += row.billed_nano;
    agg.tokens += row.prompt_tokens + row.completion_tokens;
    agg.calls += 1;
  } else {
    agg.blocked += 1;
  }
}

/** A call the customer paid for: a retry with its idempotency key must not be charged again. */
function isCharged(row: UsageRecord): boolean {
  return row.decision === 'allowed' && (row.billed_nano > 0 || (row.status >= 200 && row.status < 300));
}
