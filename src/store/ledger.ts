import { open, type RootDatabase, type Database } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PERIOD_KINDS, PeriodClock, neverResets, type PeriodKind } from '../budget/periods.js';
import { addRow, agentScopeKey, aggregatePeriodKey, customerScopeKey, emptyAggregate, keyScopeKey, type Aggregate } from './aggregates.js';
import type { UsageRecord } from './usage-record.js';
import { ReportIndexes, type ReportIndexOptions } from './report-indexes.js';
import type { LedgerHealth } from './ledger-health.js';
import type { LedgerProgress } from './ledger-progress.js';
import { Journal } from './journal.js';
import { JournalWriter } from './journal-writer.js';
import { RowBatcher } from './row-batcher.js';
import { adjustmentKey, type AdjustmentKey, type PriceAdjustment } from './price-adjustments.js';
import { writeTransaction, writesInFlight } from './lmdb-writes.js';

/** Kinds whose global-zone aggregates every ledger has kept; quarter, year and other zones came later (see `#since`). */
const LEGACY_KINDS: ReadonlySet<PeriodKind> = new Set(['day', 'week', 'month', 'total']);
/** Key in the aggregates db under which the time a zone's aggregates started is kept: [ZONES_SINCE, zone]. */
const ZONES_SINCE = '\u0000zones-since';
/** Key in the aggregates db under which the time issued keys' aggregates started is kept (ledgers before it summed no key). */
const KEYS_SINCE: [string, string] = ['\u0000keys-since', ''];

export { LedgerUnavailableError } from './row-batcher.js';

export interface LedgerOptions {
  /** Shared admission flag: set while rows are held because a write failed (the writer's cell). */
  health?: LedgerHealth;
  /** How long an append waits for its batch to be durable before its promise rejects (the writer keeps the row). */
  commitTimeoutMs?: number;
  log?: (level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Time zones budgets use besides the global one (customers' and plans'
   * `timeZone`): every row also adds to its scope's aggregates for these
   * zones' periods, so a slot of such a budget is seeded exactly.
   */
  zones?: readonly string[];
  /**
   * Where appends go: the process's ledger writer (a shard's batches to the
   * writer thread). Without it the ledger writes its own journal and LMDB in
   * this thread, and an append resolves once LMDB has the row (the CLI, tests).
   */
  appender?: RowBatcher;
  /**
   * The writer's position (ledger-progress.ts): reads first wait for LMDB to
   * hold every row already durable in the journal (read-your-writes).
   */
  progress?: LedgerProgress;
  /** Journal segment size when this ledger writes its own journal (ledger.journalSegmentBytes). */
  journalSegmentBytes?: number;
  /**
   * False on a thread that must never block (the supervisor: it serves every
   * shard's scope resolutions and admin writes): its reads see what LMDB has,
   * and callers that need read-your-writes await fresh() first.
   */
  blockingReads?: boolean;
}

/** How long a read waits for the write-behind to catch up before it reads what LMDB has. */
const CATCH_UP_MS = 2_000;
/** Journal segment size unless configured (ledger.journalSegmentBytes). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

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
  readonly #adjustments: Database<PriceAdjustment, AdjustmentKey>;
  readonly #clock: PeriodClock;
  /** The global zone first, then every other zone budgets use. */
  readonly #zones: string[];
  /** Per zone: since when this ledger keeps all six period kinds' aggregates for it (ms). */
  readonly #since = new Map<string, number>();
  /** Since when rows add to their issued key's aggregates (keyPeriodTotal). */
  readonly #keysSince: number;
  readonly #reports: ReportIndexes;
  readonly #options: LedgerOptions;
  readonly #sync: boolean;
  readonly #dataDir: string;
  /** This ledger's own writer (no `appender` given), started at the first append. */
  #local: { batcher: RowBatcher; writer: JournalWriter; ready: Promise<unknown> } | undefined;

  /**
   * `sync: true` flushes every commit to disk (LMDB's overlapping sync), so
   * rows survive power loss. `false` leaves write-back to the OS: rows still
   * survive any process crash (kill -9, OOM) because a commit is in the page
   * cache before the client is answered, but an OS crash may lose the last
   * seconds; it roughly doubles ledger throughput.
   */
  constructor(dataDir: string, timeZone = 'UTC', sync = true, reportOptions: ReportIndexOptions = {}, options: LedgerOptions = {}) {
    this.#options = options;
    this.#sync = sync;
    this.#dataDir = dataDir;
    mkdirSync(dataDir, { recursive: true });
    this.#root = open({ path: join(dataDir, 'tollgate.lmdb'), maxDbs: 16, compression: false, noSync: !sync });
    this.#usage = this.#root.openDB({ name: 'usage', ...RECORDS });
    this.#byCustomer = this.#root.openDB({ name: 'usage_by_customer', encoding: 'binary' });
    this.#aggregates = this.#root.openDB({ name: 'aggregates', ...RECORDS });
    this.#idempotency = this.#root.openDB({ name: 'idempotency', ...RECORDS });
    this.#adjustments = this.#root.openDB({ name: 'adjustments', ...RECORDS });
    this.#clock = new PeriodClock(timeZone);
    this.#reports = new ReportIndexes(this.#root, this.#clock, reportOptions);
    this.#zones = [timeZone, ...new Set((options.zones ?? []).filter((z) => z !== timeZone))];
    const now = Date.now();
    // A writer (it names its zones) forgets zones no longer configured: if one comes back, its
    // aggregates missed the rows in between, so its periods must count from its return.
    if (options.zones) {
      for (const { key } of this.#aggregates.getRange({ start: [ZONES_SINCE, ''], end: [ZONES_SINCE, '\uffff'] })) {
        if (!this.#zones.includes(key[1])) this.#aggregates.removeSync(key);
      }
    }
    for (const zone of this.#zones) {
      const key: [string, string] = [ZONES_SINCE, zone];
      const since = (this.#aggregates.get(key) as unknown as { since: number } | undefined)?.since;
      if (since === undefined) this.#aggregates.putSync(key, { since: now } as unknown as Aggregate);
      this.#since.set(zone, since ?? now);
    }
    const keysSince = (this.#aggregates.get(KEYS_SINCE) as unknown as { since: number } | undefined)?.since;
    if (keysSince === undefined && options.zones) this.#aggregates.putSync(KEYS_SINCE, { since: now } as unknown as Aggregate);
    this.#keysSince = keysSince ?? (options.zones ? now : Infinity);
  }

  /** Resolves once the row is durable (the client may then be answered); rejects with LedgerUnavailableError past the commit timeout. */
  append(row: UsageRecord): Promise<void> {
    return this.#appender().append(row);
  }

  #appender(): RowBatcher {
    if (this.#options.appender) return this.#options.appender;
    if (!this.#local) {
      const journal = new Journal(this.#dataDir, this.#sync, this.#options.journalSegmentBytes ?? DEFAULT_SEGMENT_BYTES);
      const writer = new JournalWriter(this, journal, { health: this.#options.health, log: this.#options.log });
      const ready = writer.recover();
      const batcher: RowBatcher = new RowBatcher((batch, rows, seq) => {
        void ready.then(() => writer.submit(batch, rows, noop, () => batcher.acked(seq)));
      }, this.#options.commitTimeoutMs);
      this.#local = { batcher, writer, ready };
    }
    return this.#local.batcher;
  }

  /** Billing-report indexes, written in the same transaction as the rows. */
  get reports(): ReportIndexes {
    this.#catchUp();
    return this.#reports;
  }

  /**
   * Read-your-writes: LMDB first catches up with the journal's durable
   * position. Not while writes fail (reads then see what LMDB has), not on a
   * thread that must not block, and not while this thread has an LMDB write
   * transaction pending: the writer would wait for its lock (lmdb-writes.ts).
   */
  #catchUp(): void {
    const p = this.#lagging();
    if (p && this.#options.blockingReads !== false && writesInFlight() === 0) {
      p.catchUpSync(CATCH_UP_MS);
      this.#root.resetReadTxn();
    }
  }

  /** Read-your-writes without blocking the thread: resolves once LMDB holds every row durable now (or after CATCH_UP_MS). */
  async fresh(): Promise<void> {
    const p = this.#lagging();
    if (p) await p.catchUp(CATCH_UP_MS);
    this.#root.resetReadTxn();
  }

  /** The writer's progress when LMDB is behind the journal and writes succeed (while they fail, reads see what LMDB has). */
  #lagging(): LedgerProgress | undefined {
    const p = this.#options.progress;
    return p && p.applied < p.durable && (this.#options.health?.accepting ?? true) ? p : undefined;
  }

  /**
   * Writes rows to LMDB in one transaction — rows, customer index, aggregates,
   * report indexes and idempotency keys together — skipping any row whose
   * (ts, request_id) is already there, so replaying a journal twice charges
   * nothing twice. Resolves with the number of rows written.
   * `maybePresent: false` — the caller knows no row can be in LMDB yet (new
   * rows on their first write attempt, journal-writer.ts `newRows`): the
   * lookup per row is skipped; duplicates within `rows` are still dropped.
   */
  async commitRows(rows: readonly UsageRecord[], maybePresent = true): Promise<number> {
    let written = 0;
    await writeTransaction(this.#root, () => {
      const fresh: UsageRecord[] = [];
      const seen = new Set<string>();
      for (const row of rows) {
        if (seen.has(row.request_id) || (maybePresent && this.#usage.doesExist([row.ts, row.request_id]))) continue;
        seen.add(row.request_id);
        fresh.push(row);
      }
      written = fresh.length;
      if (fresh.length) this.#write(fresh);
    });
    return written;
  }

  /** Resolves once LMDB's last commit is on disk. */
  flushed(): Promise<unknown> {
    return this.#root.flushed;
  }

  /** Inside a write transaction: rows, index, aggregates, report indexes and idempotency keys. */
  #write(rows: readonly UsageRecord[]): void {
    const deltas = this.#aggregateDeltas(rows);
    this.#reports.write(this.#reports.collect(rows));
    let first = true;
    for (const row of rows) {
      const put = this.#usage.put([row.ts, row.request_id], row);
      // Writes in a transaction share its commit promise; unobserved, a failed commit becomes an unhandled rejection.
      if (first) {
        first = false;
        (put as Promise<unknown>)?.catch?.(noop);
      }
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
  }

  /**
   * Shutdown: calls waiting for their rows to be durable stop waiting (their
   * clients get an error now rather than at the commit timeout); the writer
   * keeps the rows for its last attempt.
   */
  stopWaiting(reason: string): number {
    return (this.#options.appender ?? this.#local?.batcher)?.stopWaiting(reason) ?? 0;
  }

  /** False while calls must not be admitted: the disk is low or the writer holds rows it could not write. */
  get accepting(): boolean {
    return this.#options.health?.accepting ?? !(this.#local?.writer.heldRows);
  }

  /** Time (ms) batches of appended rows waited to be durable, since last taken. */
  get commitSamples(): number[] {
    return this.#options.appender?.commitSamples ?? this.#local?.batcher.commitSamples ?? [];
  }

  /**
   * What a batch adds to each (scope, period) aggregate. Rows are summed per
   * calendar day and customer first: a day lies inside exactly one week and
   * one month, so the period keys are formatted per day, not per row.
   */
  #aggregateDeltas(rows: readonly UsageRecord[]): { scope: string; period: string; agg: Aggregate }[] {
    const deltas: { scope: string; period: string; agg: Aggregate }[] = [];
    for (const zone of this.#zones) this.#zoneDeltas(rows, zone, deltas);
    return deltas;
  }

  #zoneDeltas(rows: readonly UsageRecord[], zone: string, deltas: { scope: string; period: string; agg: Aggregate }[]): void {
    const global = zone === this.#zones[0];
    const days = new Map<number, { ts: number; customers: Map<string, { all: Aggregate; agents: Map<string, Aggregate> }>; keys: Map<string, Aggregate> }>();
    for (const row of rows) {
      const start = this.#clock.window('day', row.ts, zone).start;
      let day = days.get(start);
      if (!day) days.set(start, (day = { ts: row.ts, customers: new Map(), keys: new Map() }));
      if (row.key_id) {
        let k = day.keys.get(row.key_id);
        if (!k) day.keys.set(row.key_id, (k = emptyAggregate()));
        addRow(k, row);
      }
      let c = day.customers.get(row.customer);
      if (!c) day.customers.set(row.customer, (c = { all: emptyAggregate(), agents: new Map() }));
      addRow(c.all, row);
      if (row.agent) {
        let a = c.agents.get(row.agent);
        if (!a) c.agents.set(row.agent, (a = emptyAggregate()));
        addRow(a, row);
      }
    }
    // `total` is zone-free: only the global pass adds to it.
    const kinds = global ? PERIOD_KINDS : PERIOD_KINDS.filter((k) => k !== 'total');
    for (const { ts, customers, keys } of days.values()) {
      const periods = kinds.map((kind) => global ? this.#clock.key(kind, ts) : `${zone}|${this.#clock.key(kind, ts, zone)}`);
      for (const [keyId, agg] of keys) {
        for (const period of periods) deltas.push({ scope: keyScopeKey(keyId), period, agg });
      }
      for (const [customer, c] of customers) {
        for (const period of periods) deltas.push({ scope: customerScopeKey(customer), period, agg: c.all });
        for (const [agent, agg] of c.agents) {
          for (const period of periods) deltas.push({ scope: agentScopeKey(customer, agent), period, agg });
        }
      }
    }
  }

  /** Every aggregate period key a row at `ts` adds to: each kind in the global zone, each kind but `total` in every other zone in use. */
  #periodKeysAt(ts: number): string[] {
    const keys: string[] = [];
    for (const zone of this.#zones) {
      const global = zone === this.#zones[0];
      for (const kind of PERIOD_KINDS) {
        if (global) keys.push(this.#clock.key(kind, ts));
        else if (kind !== 'total') keys.push(`${zone}|${this.#clock.key(kind, ts, zone)}`);
      }
    }
    return keys;
  }

  aggregate(scope: string, period: string): Aggregate {
    this.#catchUp();
    return this.#aggregates.get([scope, period]) ?? emptyAggregate();
  }

  /** Aggregate for the period of `kind` containing `now` (in the global zone unless `timeZone` is given). */
  aggregateAt(scope: string, kind: PeriodKind, now: number, timeZone = this.#zones[0]!): Aggregate {
    return this.aggregate(scope, aggregatePeriodKey(kind, this.#clock.window(kind, now, timeZone), timeZone, this.#zones[0]!));
  }

  /**
   * What a budget's counter should hold for the period of `kind` containing
   * `now` in `timeZone`: the scope's aggregate when this ledger kept that
   * aggregate for the whole period, else the sum of the scope's rows in the
   * period (exact, but one read per row: only at slot creation, and only for
   * periods that began before this build or this zone's first use — a
   * quarter or year after an upgrade, a zone just added to the config).
   * Rows deleted by retention are then missing from the sum.
   */
  periodTotal(customer: string, agent: string | null, kind: PeriodKind, now: number, timeZone = this.#zones[0]!): Aggregate {
    const scope = agent ? agentScopeKey(customer, agent) : customerScopeKey(customer);
    if (this.keepsAggregate(kind, now, timeZone)) return this.aggregateAt(scope, kind, now, timeZone);
    const w = this.#clock.window(kind, now, timeZone);
    return this.sumRows(customer, agent, w.start, w.end);
  }

  /** Whether the aggregate of this period covers every row in it (see periodTotal). */
  keepsAggregate(kind: PeriodKind, now: number, timeZone: string): boolean {
    if (neverResets(kind) || (timeZone === this.#zones[0] && LEGACY_KINDS.has(kind))) return true;
    const since = this.#since.get(timeZone);
    return since !== undefined && this.#clock.window(kind, now, timeZone).start >= since;
  }

  /**
   * What an issued key's own budget should hold for the period of `kind`
   * containing `now`: the key's aggregate when this ledger kept it for the
   * whole period (the key was issued, or the period began, after key
   * aggregates started), else the sum of the customer's rows naming the key.
   */
  keyPeriodTotal(customer: string, keyId: string, issuedAt: number, kind: PeriodKind, now: number, timeZone = this.#zones[0]!): Aggregate {
    const w = this.#clock.window(kind, now, timeZone);
    if (this.#keysSince <= Math.max(issuedAt, w.start) && this.keepsAggregate(kind, now, timeZone)) return this.aggregateAt(keyScopeKey(keyId), kind, now, timeZone);
    return this.sumRows(customer, null, Math.max(w.start, issuedAt), w.end, keyId);
  }

  /** Sums a scope's rows with from <= ts < to, as the aggregates would (the drift check's reference); `keyId`: only the rows of that issued key. */
  sumRows(customer: string, agent: string | null, from: number, to: number, keyId?: string): Aggregate {
    this.#root.resetReadTxn(); // rows other threads committed in this event turn count too
    this.#catchUp();
    const agg = emptyAggregate();
    for (const row of this.rows({ customer, from, to })) if ((agent === null || row.agent === agent) && (keyId === undefined || row.key_id === keyId)) addRow(agg, row);
    return agg;
  }

  /**
   * The committed row of an idempotency key. Reads a fresh snapshot: lmdb-js
   * reuses one read transaction for a whole event turn, and a row another
   * shard committed earlier in this turn must be seen by a copy of its call
   * that has just claimed the key (src/proxy/idempotency-claims.ts).
   */
  async findIdempotent(customer: string, key: string, now: number, windowMs: number): Promise<IdempotencyRecord | undefined> {
    // The first copy's row may be durable (its client answered, its claim released) and not yet in LMDB.
    await this.fresh();
    const r = this.#idempotency.get([customer, key]);
    return r && now - r.ts < windowMs ? r : undefined;
  }

  get(ts: number, requestId: string): UsageRecord | undefined {
    this.#catchUp();
    return this.#usage.get([ts, requestId]);
  }

  /** Rows oldest first, lazily: memory stays bounded whatever the count. */
  *rows(q: UsageQuery): Generator<UsageRecord> {
    this.#catchUp();
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
    await writeTransaction(this.#root, () => {
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
    if (doomed.length) await writeTransaction(this.#root, () => { for (const k of doomed) this.#idempotency.remove(k); });
    return { deleted: doomed.length, next: seen === max ? last : undefined };
  }

  /**
   * Re-rating: in one transaction, each adjusted row gets its new figures (keeping the first ones
   * as `original_*`), its audit entry, and the same deltas on its aggregates and report-index
   * entries, so rows, reports and budgets seeded from aggregates agree. An adjustment whose row
   * changed since it was read (another re-rate got there first) or is gone is skipped. Returns
   * the adjustments applied.
   */
  async applyAdjustments(adjustments: readonly PriceAdjustment[]): Promise<PriceAdjustment[]> {
    const applied: PriceAdjustment[] = [];
    if (!adjustments.length) return applied;
    await writeTransaction(this.#root, () => {
      applied.length = 0;
      for (const a of adjustments) {
        const key: [number, string] = [a.row_ts, a.request_id];
        const row = this.#usage.get(key);
        if (!row || row.decision !== 'allowed' || row.cost_nano !== a.old_cost_nano || row.billed_nano !== a.old_billed_nano) continue;
        const dCost = a.new_cost_nano - a.old_cost_nano;
        const dBilled = a.new_billed_nano - a.old_billed_nano;
        this.#usage.put(key, {
          ...row,
          original_cost_nano: row.original_cost_nano ?? row.cost_nano,
          original_billed_nano: row.original_billed_nano ?? row.billed_nano,
          cost_nano: a.new_cost_nano,
          billed_nano: a.new_billed_nano,
          price_source: a.new_price_source,
        });
        this.#adjustments.put(adjustmentKey(a), a);
        const scopes = [customerScopeKey(row.customer), ...(row.agent ? [agentScopeKey(row.customer, row.agent)] : [])];
        for (const scope of scopes) {
          for (const period of this.#periodKeysAt(row.ts)) {
            const k: [string, string] = [scope, period];
            const cur = this.#aggregates.get(k) ?? emptyAggregate();
            cur.cost_nano += dCost;
            cur.billed_nano += dBilled;
            this.#aggregates.put(k, cur);
          }
        }
        this.reports.adjust(row, dCost, dBilled);
        applied.push(a);
      }
    });
    return applied;
  }

  /** Re-rate adjustments of rows timed in [from, to), oldest row first. */
  *adjustments(q: { from?: number; to?: number }): Generator<PriceAdjustment> {
    for (const { value } of this.#adjustments.getRange({ start: [q.from ?? 0, '', 0, ''], end: [q.to ?? Number.MAX_SAFE_INTEGER, '', 0, ''] })) yield value;
  }

  /**
   * Keys ([ts, request_id]) of rows after `q.cursor` (else from `q.from`) and before `q.to`, oldest
   * first, at most `limit`, without decoding a row: the cluster ledger's shipper (pg/ledger-shipper.ts)
   * looks for rows committed late with these.
   */
  keys(q: UsageQuery, limit: number): [number, string][] {
    this.#root.resetReadTxn(); // rows other threads committed since this thread's last read
    const start: [number, string] = q.cursor ? [q.cursor[0], q.cursor[1] + '\u0000'] : [q.from ?? 0, ''];
    return [...this.#usage.getKeys({ start, end: [q.to ?? Number.MAX_SAFE_INTEGER, ''], limit })];
  }

  /** Number of rows a query would return (a key count, no row is decoded): the CLI's progress bar. */
  countRows(q: UsageQuery): number {
    this.#catchUp();
    const from = q.from ?? 0;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    return q.customer !== undefined
      ? this.#byCustomer.getCount({ start: [q.customer, from, ''], end: [q.customer, to, ''] })
      : this.#usage.getCount({ start: [from, ''], end: [to, ''] });
  }

  /** Resolves when everything appended so far is durable (or has failed). */
  async flush(): Promise<void> {
    await (this.#options.appender ?? this.#local?.batcher)?.flush();
  }

  /**
   * Flushes and closes. With its own writer, that writer makes one last,
   * bounded attempt at rows a failed write holds; rows that still cannot be
   * written are logged as `ledger_unwritten_row` JSON (usage fields only,
   * never payloads) instead of blocking shutdown. Returns how many rows this
   * ledger could not write.
   */
  async close(lastTryMs = 2_000): Promise<number> {
    await this.flush();
    let unwritten = 0;
    if (this.#local) {
      await this.#local.ready;
      this.#local.batcher.stopWaiting('the ledger closed before this row could be written');
      unwritten = await this.#local.writer.close(lastTryMs);
      if (unwritten) this.#log('error', 'ledger closed with rows it could not write; they are in the log as ledger_unwritten_row lines', { rows: unwritten });
    }
    // Bounded: lmdb-js's close waits on the failed write's sync (measured: it never returns on a full tmpfs).
    await Promise.race([this.#root.close(), sleep(unwritten ? 1_000 : 5_000)]);
    return unwritten;
  }

  #log(level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>): void {
    if (this.#options.log) this.#options.log(level, msg, fields);
    else if (level === 'error') process.stderr.write(JSON.stringify({ level, msg, ...fields }) + '\n');
  }
}

const noop = () => {};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** lmdb-js attaches the cause of a failed commit as a second promise (`commitError`) that rejects unobserved unless handled. */
export function commitErrorCause(err: unknown, onCause: (cause: unknown) => void = noop): void {
  const cause = (err as { commitError?: Promise<unknown> })?.commitError;
  cause?.catch?.(onCause);
}

/**
 * A failed LMDB commit as lmdb-js reports it. Besides the promises the
 * ledger awaits, lmdb-js rejects an internal one nobody can observe; the
 * unhandled-rejection hooks use this to drop that duplicate quietly.
 */
export function isLmdbCommitFailure(err: unknown): boolean {
  const cause = (err as { commitError?: Promise<unknown> })?.commitError;
  if (!cause?.catch) return false;
  cause.catch(noop);
  return true;
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

/** A call the customer paid for: a retry with its idempotency key must not be charged again. */
export function isCharged(row: UsageRecord): boolean {
  return row.decision === 'allowed' && (row.billed_nano > 0 || (row.status >= 200 && row.status < 300));
}
