import { csvLine } from '../store/usage-record.js';
import { COUNTER_COLUMNS, type BreakdownRow, type DailyReport, type PublicCounters, type SummaryReport } from './reports.js';

// Reports as CSV: a header line, then one line per entry. The summary is in
// long form (section, key, counters...) so one file holds its totals, days
// and breakdowns and pivots cleanly in a spreadsheet.

const counters = (c: PublicCounters) => COUNTER_COLUMNS.map((k) => c[k]);

export function dailyCsv(r: DailyReport): string {
  let s = csvLine(['date', ...COUNTER_COLUMNS]);
  for (const d of r.days) s += csvLine([d.date, ...counters(d)]);
  return s;
}

export function breakdownCsv(dim: string, rows: BreakdownRow[]): string {
  let s = csvLine([dim, ...COUNTER_COLUMNS]);
  for (const r of rows) s += csvLine([r.key, ...counters(r)]);
  return s;
}

export function summaryCsv(r: SummaryReport): string {
  let s = csvLine(['customer', 'from', 'to', 'section', 'key', ...COUNTER_COLUMNS]);
  const line = (section: string, key: string, c: PublicCounters) => (s += csvLine([r.customer, r.from, r.to, section, key, ...counters(c)]));
  line('total', '', r.totals);
  for (const d of r.days) line('day', d.date, d);
  for (const m of r.by_model) line('model', m.model, m);
  for (const a of r.by_agent) line('agent', a.agent, a);
  for (const t of r.by_tag) line('tag', t.tag, t);
  return s;
}

export function customersCsv(r: { from: string; to: string; customers: ({ customer: string } & PublicCounters)[] }): string {
  let s = csvLine(['customer', 'from', 'to', ...COUNTER_COLUMNS]);
  for (const c of r.customers) s += csvLine([c.customer, r.from, r.to, ...counters(c)]);
  return s;
}
