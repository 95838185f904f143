import { addCounters, emptyCounters, type Dimension, type ReportCounters } from '../store/report-indexes.js';
import type { ReportSource } from '../store/report-source.js';
import { eachDay, type ReportRange } from './report-query.js';

// Billing reports built from the report indexes (never from the rows):
// daily breakdown, period totals, by model / agent / tag, and every
// customer's totals with provider cost against the billed amount, so the
// margin of a markup is visible. Integer nano-USD inside, USD at this edge.

export interface PublicCounters {
  calls: number;
  blocked: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;   // provider cost
  billed: number;     // charged to the customer, USD
  margin_usd: number; // billed − cost
  markup: number | null; // billed ÷ cost; null when nothing was spent
  shadow_exceeded: number; // served calls a shadow budget (enforce: false) would have refused
}

export const COUNTER_COLUMNS = ['calls', 'blocked', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'billed', 'margin_usd', 'markup', 'shadow_exceeded'] as const;

const usd = (nano: number): number => nano / 1e9;

export function toPublic(c: ReportCounters): PublicCounters {
  return {
    calls: c.calls,
    blocked: c.blocked,
    prompt_tokens: c.prompt_tokens,
    completion_tokens: c.completion_tokens,
    cached_tokens: c.cached_tokens,
    cost_usd: usd(c.cost_nano),
    billed: usd(c.billed_nano),
    margin_usd: usd(c.billed_nano - c.cost_nano),
    markup: c.cost_nano > 0 ? Math.round((c.billed_nano / c.cost_nano) * 10_000) / 10_000 : null,
    shadow_exceeded: c.shadow_exceeded,
  };
}

export interface DailyReport {
  customer: string;
  from: string;
  to: string;
  filter: { model?: string; agent?: string; tag?: string } | null;
  days: ({ date: string } & PublicCounters)[];
}

/** One entry per day of the range (zeros included, so charts have no gaps). */
export function dailyReport(ix: ReportSource, customer: string, range: ReportRange, filter?: { dim: Exclude<Dimension, 'all'>; value: string }): DailyReport {
  const byDay = new Map<string, ReportCounters>();
  const source = filter ? ix.days(customer, range.from, range.to, filter.dim, filter.value) : ix.days(customer, range.from, range.to);
  for (const { day, c } of source) byDay.set(day, c);
  const days = [];
  for (const date of eachDay(range.from, range.to)) days.push({ date, ...toPublic(byDay.get(date) ?? emptyCounters()) });
  return { customer, from: range.from, to: range.to, filter: filter ? { [filter.dim]: filter.value } : null, days };
}

export type BreakdownRow = { key: string } & PublicCounters;

export function breakdownReport(ix: ReportSource, customer: string, range: ReportRange, dim: Exclude<Dimension, 'all'>): BreakdownRow[] {
  const rows = [...ix.breakdown(customer, range.from, range.to, dim)].map(([key, c]) => ({ key, ...toPublic(c) }));
  // Biggest spend first; then by activity, then by name for a stable order.
  return rows.sort((a, b) => b.billed - a.billed || b.calls + b.blocked - (a.calls + a.blocked) || (a.key < b.key ? -1 : 1));
}

export interface SummaryReport {
  customer: string;
  from: string;
  to: string;
  totals: PublicCounters;
  days: DailyReport['days'];
  by_model: ({ model: string } & PublicCounters)[];
  by_agent: ({ agent: string } & PublicCounters)[];
  by_tag: ({ tag: string } & PublicCounters)[];
}

/** Everything one customer's invoice needs for a period (a month, usually). */
export function summaryReport(ix: ReportSource, customer: string, range: ReportRange): SummaryReport {
  const daily = dailyReport(ix, customer, range);
  const total = emptyCounters();
  for (const { c } of ix.days(customer, range.from, range.to)) addCounters(total, c);
  const rename = <K extends string>(rows: BreakdownRow[], name: K) =>
    rows.map(({ key, ...rest }) => ({ [name]: key, ...rest }) as { [P in K]: string } & PublicCounters);
  return {
    customer,
    from: range.from,
    to: range.to,
    totals: toPublic(total),
    days: daily.days,
    by_model: rename(breakdownReport(ix, customer, range, 'model'), 'model'),
    by_agent: rename(breakdownReport(ix, customer, range, 'agent'), 'agent'),
    by_tag: rename(breakdownReport(ix, customer, range, 'tag'), 'tag'),
  };
}

/** Every customer's totals for the range, biggest billed first: the margin per customer. */
export function customersReport(ix: ReportSource, range: ReportRange): { from: string; to: string; customers: ({ customer: string } & PublicCounters)[]; totals: PublicCounters } {
  const all = emptyCounters();
  const customers = [];
  for (const { customer, firstTs, lastTs } of ix.customers()) {
    if (ix.day(lastTs) < range.from || ix.day(firstTs) > range.to) continue;
    const t = ix.totals(customer, range.from, range.to);
    if (t.calls + t.blocked === 0) continue;
    addCounters(all, t);
    customers.push({ customer, ...toPublic(t) });
  }
  customers.sort((a, b) => b.billed - a.billed || (a.customer < b.customer ? -1 : 1));
  return { from: range.from, to: range.to, customers, totals: toPublic(all) };
}
