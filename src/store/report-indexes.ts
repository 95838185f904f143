import type { Database, RootDatabase } from 'lmdb';
import type { PeriodClock } from '../budget/periods.js';
import type { UsageRecord } from './usage-record.js';

// Billing-report indexes, kept in the same LMDB transaction as the usage rows
// they summarise (the ledger calls collect() before and write() inside its
// commit), so a report is a few range reads over small keys — never a scan
// of the rows — and survives row retention.
//
//   report_days       [customer, dim, day, value] → counters (one per calendar day in the ledger's zone)
//   report_customers  customer → [first_ts, last_ts]
//
// dim is 'all' (value ''), 'model', 'agent' or 'tag' (value "k=v"). The key
// order puts one dimension's days next to each other, so "by model for
// November" reads exactly the model entries of November.

export type Dimension = 'all' | 'model' | 'agent' | 'tag';

/** Integer counters of one (customer, dimension value, day). Money in nano-USD. */
export interface ReportCounters {
  calls: number;             // allowed calls
  blocked: number;           // refused calls
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_nano: number;         // what the providers charge
  billed_nano: number;       // what the customer is charged
  shadow_exceeded: number;   // served calls a shadow budget would have refused
}

/** The 8th field (shadow_exceeded) came later: entries written before have 7, read as 0. */
type Packed = [number, number, number, number, number, number, number, number?];
type DayKey = [string, Dimension | 'tagn', string, string];

export const NO_AGENT = '(none)';
export const OTHER = '(other)';
const DEFAULT_MAX_TAG_VALUES = 1000;

export const emptyCounters = (): ReportCounters => ({
  calls: 0, blocked: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_nano: 0, billed_nano: 0, shadow_exceeded: 0,
});

export function addCounters(into: ReportCounters, c: ReportCounters): ReportCounters {
  into.calls += c.calls;
  into.blocked += c.blocked;
  into.prompt_tokens += c.prompt_tokens;
  into.completion_tokens += c.completion_tokens;
  into.cached_tokens += c.cached_tokens;
  into.cost_nano += c.cost_nano;
  into.billed_nano += c.billed_nano;
  into.shadow_exceeded += c.shadow_exceeded;
  return into;
}

const pack = (c: ReportCounters): Packed => [c.calls, c.blocked, c.prompt_tokens, c.completion_tokens, c.cached_tokens, c.cost_nano, c.billed_nano, c.shadow_exceeded];
const unpack = (p: Packed): ReportCounters => ({
  calls: p[0], blocked: p[1], prompt_tokens: p[2], completion_tokens: p[3], cached_tokens: p[4], cost_nano: p[5], billed_nano: p[6], shadow_exceeded: p[7] ?? 0,
});

/** Adds one row to counters. */
function addRow(c: ReportCounters, row: UsageRecord): void {
  if (row.decision === 'allowed') {
    c.calls += 1;
    c.prompt_tokens += row.prompt_tokens;
    c.completion_tokens += row.completion_tokens;
    c.cached_tokens += row.cached_tokens;
    c.cost_nano += row.cost_nano;
    c.billed_nano += row.billed_nano;
    if (row.shadow_exceeded) c.shadow_exceeded += 1;
  } else {
    c.blocked += 1;
  }
}

/** One customer's counters for one day in a batch, per dimension value (in order of first appearance). */
interface DayDelta {
  customer: string;
  day: string;
  all: ReportCounters;
  model: Map<string, ReportCounters>;
  agent: Map<string, ReportCounters>;
  tag: Map<string, ReportCounters>;
}

/** What one ledger batch adds to the indexes; built outside the write transaction. */
export interface ReportDelta {
  days: DayDelta[];
  customers: Map<string, [number, number]>;
}

function bump(m: Map<string, ReportCounters>, value: string, row: UsageRecord): void {
  let c = m.get(value);
  if (!c) m.set(value, (c = emptyCounters()));
  addRow(c, row);
}

/**
 * What a batch of rows adds to the report indexes, per (customer, day in the
 * clock's zone) and dimension value: the LMDB indexes and the PostgreSQL
 * cluster ledger (src/store/pg/) count the same way.
 */
export function collectReportDelta(rows: Iterable<UsageRecord>, clock: PeriodClock): ReportDelta {
  const delta: ReportDelta = { days: [], customers: new Map() };
  // Rows of one batch are nearly always of one day: group per (day, customer), no key built per row.
  const byDay = new Map<number, Map<string, DayDelta>>();
  for (const row of rows) {
    const start = clock.window('day', row.ts).start;
    let customers = byDay.get(start);
    if (!customers) byDay.set(start, (customers = new Map()));
    let d = customers.get(row.customer);
    if (!d) {
      d = { customer: row.customer, day: clock.key('day', row.ts).slice(4), all: emptyCounters(), model: new Map(), agent: new Map(), tag: new Map() };
      customers.set(row.customer, d);
      delta.days.push(d);
    }
    addRow(d.all, row);
    bump(d.model, row.model ?? row.model_requested ?? '(unknown)', row);
    bump(d.agent, row.agent ?? NO_AGENT, row);
    for (const k in row.tags) bump(d.tag, `${k}=${row.tags[k]}`, row);
    const seen = delta.customers.get(row.customer);
    if (!seen) delta.customers.set(row.customer, [row.ts, row.ts]);
    else {
      if (row.ts < seen[0]) seen[0] = row.ts;
      if (row.ts > seen[1]) seen[1] = row.ts;
    }
  }
  return delta;
}

/** Day entries summed per dimension value (a breakdown). */
export function sumPerValue(days: Iterable<{ value: string; c: ReportCounters }>): Map<string, ReportCounters> {
  const out = new Map<string, ReportCounters>();
  for (const { value, c } of days) {
    const cur = out.get(value);
    if (cur) addCounters(cur, c);
    else out.set(value, c);
  }
  return out;
}

/** Day entries summed (a total). */
export function sumAll(days: Iterable<{ c: ReportCounters }>): ReportCounters {
  const t = emptyCounters();
  for (const { c } of days) addCounters(t, c);
  return t;
}

export interface ReportIndexOptions {
  /** Distinct values one tag name may take per customer and day; later ones count under "name=(other)". */
  maxTagValuesPerDay?: number;
}

export class ReportIndexes {
  readonly #days: Database<Packed, DayKey>;
  readonly #customers: Database<[number, number], string>;
  readonly #maxTagValues: number;

  constructor(root: RootDatabase, private readonly clock: PeriodClock, opts: ReportIndexOptions = {}) {
    this.#days = root.openDB({ name: 'report_days', encoding: 'msgpack' });
    this.#customers = root.openDB({ name: 'report_customers', encoding: 'msgpack' });
    this.#maxTagValues = opts.maxTagValuesPerDay ?? DEFAULT_MAX_TAG_VALUES;
  }

  /** Calendar day (YYYY-MM-DD) of `ts` in the ledger's time zone. */
  day(ts: number): string {
    return this.clock.key('day', ts).slice(4);
  }

  collect(rows: Iterable<UsageRecord>): ReportDelta {
    return collectReportDelta(rows, this.clock);
  }

  /** Applies a batch's delta. Call inside the ledger's write transaction. */
  write(delta: ReportDelta): void {
    for (const d of delta.days) {
      this.#add([d.customer, 'all', d.day, ''], d.all);
      for (const [value, c] of d.model) this.#add([d.customer, 'model', d.day, value], c);
      for (const [value, c] of d.agent) this.#add([d.customer, 'agent', d.day, value], c);
      for (const [value, c] of d.tag) {
        const key: DayKey = [d.customer, 'tag', d.day, value];
        this.#add(this.#days.get(key) === undefined ? this.#admitTagValue(key) : key, c);
      }
    }
    for (const [customer, [first, last]] of delta.customers) {
      const cur = this.#customers.get(customer);
      if (!cur) this.#customers.put(customer, [first, last]);
      else if (first < cur[0] || last > cur[1]) this.#customers.put(customer, [Math.min(first, cur[0]), Math.max(last, cur[1])]);
    }
  }

  /**
   * A re-rated row's money moves by (dCost, dBilled): every entry it was counted under moves by as
   * much. Call inside the ledger's write transaction. A tag value that was folded into
   * "name=(other)" when the row was counted has no entry of its own: the fold is adjusted.
   */
  adjust(row: UsageRecord, dCost: number, dBilled: number): void {
    const c = { ...emptyCounters(), cost_nano: dCost, billed_nano: dBilled };
    const day = this.day(row.ts);
    this.#add([row.customer, 'all', day, ''], c);
    this.#add([row.customer, 'model', day, row.model ?? row.model_requested ?? '(unknown)'], c);
    this.#add([row.customer, 'agent', day, row.agent ?? NO_AGENT], c);
    for (const k in row.tags) {
      const key: DayKey = [row.customer, 'tag', day, `${k}=${row.tags[k]}`];
      this.#add(this.#days.get(key) === undefined ? [row.customer, 'tag', day, `${k}=${OTHER}`] : key, c);
    }
  }

  #add(key: DayKey, c: ReportCounters): void {
    const cur = this.#days.get(key);
    this.#days.put(key, cur ? pack(addCounters(unpack(cur), c)) : pack(c));
  }

  /** A tag value new for its day: counted, or folded into "name=(other)" once the name has too many. */
  #admitTagValue(key: DayKey): DayKey {
    const [customer, , day, kv] = key;
    const name = kv.slice(0, kv.indexOf('='));
    const countKey: DayKey = [customer, 'tagn', day, name];
    const n = (this.#days.get(countKey)?.[0] ?? 0);
    if (n >= this.#maxTagValues) return [customer, 'tag', day, `${name}=${OTHER}`];
    this.#days.put(countKey, [n + 1, 0, 0, 0, 0, 0, 0]);
    return key;
  }

  /** Counters per day (inclusive range of YYYY-MM-DD), one dimension value or all. */
  *days(customer: string, fromDay: string, toDay: string, dim: Dimension = 'all', value?: string): Generator<{ day: string; value: string; c: ReportCounters }> {
    for (const { key, value: v } of this.#days.getRange({ start: [customer, dim, fromDay], end: [customer, dim, `${toDay}~`] })) {
      if (value !== undefined && key[3] !== value) continue;
      yield { day: key[2], value: key[3], c: unpack(v) };
    }
  }

  /** Totals per value of a dimension over an inclusive day range. */
  breakdown(customer: string, fromDay: string, toDay: string, dim: Exclude<Dimension, 'all'>): Map<string, ReportCounters> {
    return sumPerValue(this.days(customer, fromDay, toDay, dim));
  }

  totals(customer: string, fromDay: string, toDay: string): ReportCounters {
    return sumAll(this.days(customer, fromDay, toDay));
  }

  /** Every customer the ledger has a row for, in id order, with its first and last row time. */
  *customers(): Generator<{ customer: string; firstTs: number; lastTs: number }> {
    for (const { key, value } of this.#customers.getRange({})) yield { customer: key, firstTs: value[0], lastTs: value[1] };
  }

  customer(id: string): { firstTs: number; lastTs: number } | undefined {
    const v = this.#customers.get(id);
    return v ? { firstTs: v[0], lastTs: v[1] } : undefined;
  }
}
