// Calendar periods for budgets, aligned to midnight in an IANA time zone
// (per budget: its customer's or plan's `timeZone`, else the global one).
// Weeks start on Monday (ISO 8601); quarters on Jan/Apr/Jul/Oct 1. `total`
// never resets, and neither does `prepaid` (a wallet: docs/interface.md), which counts the
// same all-time total; it is never a configurable budget period. Boundaries are local midnights converted with the zone's
// offset at that instant, so a DST change inside a period moves nothing.

export type PeriodKind = 'day' | 'week' | 'month' | 'quarter' | 'year' | 'total' | 'prepaid';

/** The kinds the ledger keeps aggregates for (`prepaid` reads the `total` ones). */
export const PERIOD_KINDS: readonly PeriodKind[] = ['day', 'week', 'month', 'quarter', 'year', 'total'];

/** A period with no end: `total` budgets and wallets. */
export function neverResets(kind: PeriodKind): boolean {
  return kind === 'total' || kind === 'prepaid';
}

export interface PeriodWindow { start: number; end: number }

const FOREVER = 8.64e15; // the largest Date; `total` ends never

export function periodWindow(kind: PeriodKind, now: number, timeZone = 'UTC'): PeriodWindow {
  if (neverResets(kind)) return { start: 0, end: FOREVER };
  const { y, m, d, dow } = timeZone === 'UTC' ? utcParts(now) : zonedParts(now, timeZone);
  let sy = y, sm = m, sd = d, ey = y, em = m, ed = d;
  if (kind === 'day') {
    ed = d + 1;
  } else if (kind === 'week') {
    sd = d - ((dow + 6) % 7);
    ed = sd + 7;
  } else if (kind === 'month') {
    sd = 1;
    em = m + 1;
    ed = 1;
  } else if (kind === 'quarter') {
    sm = m - (m % 3);
    sd = 1;
    em = sm + 3;
    ed = 1;
  } else {
    sm = 0;
    sd = 1;
    ey = y + 1;
    em = 0;
    ed = 1;
  }
  return { start: localMidnight(sy, sm, sd, timeZone), end: localMidnight(ey, em, ed, timeZone) };
}

/**
 * A stable key for ledger aggregates: `day:2026-11-23`, `week:2026-11-23`,
 * `month:2026-11`, `quarter:2026-Q4`, `year:2026`, `total` — the local date
 * of the window's start in `timeZone`.
 */
export function periodKey(kind: PeriodKind, w: PeriodWindow, timeZone = 'UTC'): string {
  if (neverResets(kind)) return 'total';
  const p = timeZone === 'UTC' ? utcParts(w.start) : zonedParts(w.start, timeZone);
  if (kind === 'year') return `year:${p.y}`;
  if (kind === 'quarter') return `quarter:${p.y}-Q${Math.floor(p.m / 3) + 1}`;
  const ym = `${p.y}-${String(p.m + 1).padStart(2, '0')}`;
  return kind === 'month' ? `month:${ym}` : `${kind}:${ym}-${String(p.d).padStart(2, '0')}`;
}

/** Throws RangeError for a name Intl does not know; config validation calls it once per zone. */
export function checkTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}

interface Parts { y: number; m: number; d: number; dow: number }

function utcParts(t: number): Parts {
  const dt = new Date(t);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth(), d: dt.getUTCDate(), dow: dt.getUTCDay() };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const weekdays: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function zonedFields(t: number, timeZone: string) {
  const out: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) out[p.type] = p.value;
  return {
    y: Number(out.year), m: Number(out.month) - 1, d: Number(out.day),
    h: Number(out.hour), mi: Number(out.minute), s: Number(out.second), dow: weekdays[out.weekday!]!,
  };
}

function zonedParts(t: number, timeZone: string): Parts {
  const f = zonedFields(t, timeZone);
  return { y: f.y, m: f.m, d: f.d, dow: f.dow };
}

/** Offset of the zone from UTC at instant t, in ms (positive east of Greenwich). */
function offsetAt(t: number, timeZone: string): number {
  const f = zonedFields(t, timeZone);
  const asUtc = Date.UTC(f.y, f.m, f.d, f.h, f.mi, f.s);
  return asUtc - Math.floor(t / 1000) * 1000;
}

function localMidnight(y: number, m: number, d: number, timeZone: string): number {
  const naive = Date.UTC(y, m, d); // Date.UTC normalises day/month overflow
  if (timeZone === 'UTC') return naive;
  // Two passes settle DST transitions that happen near midnight.
  let t = naive - offsetAt(naive, timeZone);
  t = naive - offsetAt(t, timeZone);
  return t;
}

/**
 * Caches the current window per (zone, kind) so the hot path does date math
 * only when a period boundary passes. `timeZone` is the default zone (the
 * global one); a budget with its own zone passes it.
 */
export class PeriodClock {
  #cache = new Map<string, Map<PeriodKind, PeriodWindow>>();
  #keys = new Map<string, Map<PeriodKind, { w: PeriodWindow; key: string }>>();
  constructor(readonly timeZone = 'UTC') {}

  window(kind: PeriodKind, now: number, timeZone = this.timeZone): PeriodWindow {
    let zone = this.#cache.get(timeZone);
    if (!zone) this.#cache.set(timeZone, (zone = new Map()));
    const w = zone.get(kind);
    if (w && now >= w.start && now < w.end) return w;
    const fresh = periodWindow(kind, now, timeZone);
    zone.set(kind, fresh);
    return fresh;
  }

  /** periodKey() of the window containing `now`, formatted once per window (the ledger asks for every row). */
  key(kind: PeriodKind, now: number, timeZone = this.timeZone): string {
    const w = this.window(kind, now, timeZone);
    let zone = this.#keys.get(timeZone);
    if (!zone) this.#keys.set(timeZone, (zone = new Map()));
    const k = zone.get(kind);
    if (k && k.w === w) return k.key;
    const key = periodKey(kind, w, timeZone);
    zone.set(kind, { w, key });
    return key;
  }
}
