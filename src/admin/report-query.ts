import { periodKey, periodWindow } from '../budget/periods.js';

// Parses report query parameters (customer, a day range or a month, format)
// into a ReportRange, or an error message naming the parameter.

export interface ReportRange {
  from: string; // YYYY-MM-DD, inclusive
  to: string;   // YYYY-MM-DD, inclusive
}

export type ReportFormat = 'json' | 'csv';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-\d{2}$/;
/** Longest range a report fills day by day (about three years). */
export const MAX_REPORT_DAYS = 1100;

export function isDay(s: string): boolean {
  if (!DAY.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Every day from `from` to `to`, inclusive. */
export function* eachDay(from: string, to: string): Generator<string> {
  for (let d = from; d <= to; d = addDays(d, 1)) yield d;
}

export function monthRange(month: string): ReportRange {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, '0')}` };
}

/**
 * `month=YYYY-MM`, or `from` / `to` as dates (YYYY-MM-DD) or ISO times
 * (turned into their day by `dayOf`). Defaults: the whole current month
 * (or the month of the one date given) when `defaultSpan` is 'month', else
 * the 30 days ending today.
 */
export function parseRange(qs: URLSearchParams, today: string, dayOf: (ts: number) => string, defaultSpan: 'month' | 'days' = 'days'): ReportRange | string {
  const month = qs.get('month');
  if (month) {
    if (!MONTH.test(month) || !isDay(`${month}-01`)) return `month: expected YYYY-MM (got "${month.slice(0, 20)}")`;
    if (qs.get('from') || qs.get('to')) return 'month: give either month or from/to, not both';
    return monthRange(month);
  }
  const day = (name: 'from' | 'to'): string | undefined | { error: string } => {
    const v = qs.get(name);
    if (!v) return undefined;
    if (isDay(v)) return v;
    const t = Date.parse(v);
    if (Number.isNaN(t) || !/^\d{4}-/.test(v)) return { error: `${name}: expected a date YYYY-MM-DD or an ISO time (got "${v.slice(0, 40)}")` };
    return dayOf(t);
  };
  const f = day('from');
  const t = day('to');
  if (typeof f === 'object') return f.error;
  if (typeof t === 'object') return t.error;
  const to = t ?? (defaultSpan === 'month' ? monthRange((f ?? today).slice(0, 7)).to : today);
  const from = f ?? (defaultSpan === 'month' ? `${to.slice(0, 7)}-01` : addDays(to, -29));
  if (from > to) return `from: ${from} is after to: ${to}`;
  if (daysBetween(from, to) >= MAX_REPORT_DAYS) return `from/to: at most ${MAX_REPORT_DAYS} days per report (got ${daysBetween(from, to) + 1})`;
  return { from, to };
}

export function parseFormat(qs: URLSearchParams): ReportFormat | string {
  const f = qs.get('format') ?? 'json';
  return f === 'json' || f === 'csv' ? f : `format: json or csv (got "${f.slice(0, 20)}")`;
}

/** [start, end) in ms of a calendar day in `timeZone`. */
export function dayWindow(day: string, timeZone: string): { start: number; end: number } {
  // Noon UTC lies inside the local day for nearly every zone; step a day when it does not (UTC+13/+14).
  let t = Date.parse(`${day}T12:00:00Z`);
  for (let i = 0; i < 3; i++) {
    const w = periodWindow('day', t, timeZone);
    const k = periodKey('day', w, timeZone).slice(4);
    if (k === day) return w;
    t += k < day ? 43_200_000 : -43_200_000;
  }
  return periodWindow('day', Date.parse(`${day}T12:00:00Z`), timeZone);
}
