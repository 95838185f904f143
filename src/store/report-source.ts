import { sumAll, sumPerValue, type Dimension, type ReportCounters } from './report-indexes.js';

// What the billing reports (src/admin/reports.ts) read: per-day counters of a
// customer by dimension, and the customers seen. The node's LMDB report
// indexes (report-indexes.ts) are one source; with a cluster ledger a
// MemoryReportSource holds what one report needs, loaded from PostgreSQL
// (pg/pg-ledger.ts) before the same report code runs on it.

export interface ReportSource {
  /** Calendar day (YYYY-MM-DD) of `ts` in the ledger's time zone. */
  day(ts: number): string;
  days(customer: string, fromDay: string, toDay: string, dim?: Dimension, value?: string): Iterable<{ day: string; value: string; c: ReportCounters }>;
  breakdown(customer: string, fromDay: string, toDay: string, dim: Exclude<Dimension, 'all'>): Map<string, ReportCounters>;
  totals(customer: string, fromDay: string, toDay: string): ReportCounters;
  customers(): Iterable<{ customer: string; firstTs: number; lastTs: number }>;
  customer(id: string): { firstTs: number; lastTs: number } | undefined;
}

export interface DayEntry { customer: string; dim: Dimension; day: string; value: string; c: ReportCounters }

/** Day entries and customers already read (one report's worth), answering like the LMDB indexes. */
export class MemoryReportSource implements ReportSource {
  /** Per customer, in the LMDB key order (dim, day, value), so iteration matches it. */
  readonly #entries = new Map<string, DayEntry[]>();
  readonly #customers: Map<string, { firstTs: number; lastTs: number }>;

  constructor(readonly day: (ts: number) => string, entries: DayEntry[], customers: { customer: string; firstTs: number; lastTs: number }[]) {
    for (const e of entries.sort((a, b) => cmp(a.dim, b.dim) || cmp(a.day, b.day) || cmp(a.value, b.value))) {
      const list = this.#entries.get(e.customer);
      if (list) list.push(e);
      else this.#entries.set(e.customer, [e]);
    }
    this.#customers = new Map(customers.sort((a, b) => cmp(a.customer, b.customer)).map(({ customer, ...t }) => [customer, t]));
  }

  *days(customer: string, fromDay: string, toDay: string, dim: Dimension = 'all', value?: string) {
    for (const e of this.#entries.get(customer) ?? []) {
      if (e.dim !== dim || e.day < fromDay || e.day > toDay) continue;
      if (value !== undefined && e.value !== value) continue;
      yield { day: e.day, value: e.value, c: { ...e.c } };
    }
  }

  breakdown(customer: string, fromDay: string, toDay: string, dim: Exclude<Dimension, 'all'>): Map<string, ReportCounters> {
    return sumPerValue(this.days(customer, fromDay, toDay, dim));
  }

  totals(customer: string, fromDay: string, toDay: string): ReportCounters {
    return sumAll(this.days(customer, fromDay, toDay));
  }

  *customers() {
    for (const [customer, t] of this.#customers) yield { customer, ...t };
  }

  customer(id: string) {
    return this.#customers.get(id);
  }
}

/** Code-unit order, as LMDB orders its string keys for the ASCII ids Tollgate uses. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
