import { describe, expect, it } from 'vitest';
import { PeriodClock, periodKey, periodWindow, type PeriodKind } from '../../src/budget/periods.js';

const iso = (t: number) => new Date(t).toISOString();
const at = (s: string) => Date.parse(s);
const window = (kind: PeriodKind, now: string, zone: string) => {
  const w = periodWindow(kind, at(now), zone);
  return { start: iso(w.start), end: iso(w.end), key: periodKey(kind, w, zone) };
};

describe('calendar periods in America/New_York', () => {
  const NY = 'America/New_York';

  it('gives the spring-forward day 23 hours and ends it at the next EDT midnight', () => {
    expect(window('day', '2026-03-08T12:00:00Z', NY)).toEqual({ start: '2026-03-08T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z', key: 'day:2026-03-08' });
  });

  it('gives the fall-back day 25 hours', () => {
    expect(window('day', '2026-11-01T12:00:00Z', NY)).toEqual({ start: '2026-11-01T04:00:00.000Z', end: '2026-11-02T05:00:00.000Z', key: 'day:2026-11-01' });
  });

  it('starts a week in EST and ends it in EDT across the March change', () => {
    expect(window('week', '2026-03-08T12:00:00Z', NY)).toEqual({ start: '2026-03-02T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z', key: 'week:2026-03-02' });
  });

  it('ends March at local midnight of April 1 in EDT', () => {
    expect(window('month', '2026-03-20T12:00:00Z', NY)).toEqual({ start: '2026-03-01T05:00:00.000Z', end: '2026-04-01T04:00:00.000Z', key: 'month:2026-03' });
  });

  it('ends November at local midnight of December 1 in EST', () => {
    expect(window('month', '2026-11-15T12:00:00Z', NY)).toEqual({ start: '2026-11-01T04:00:00.000Z', end: '2026-12-01T05:00:00.000Z', key: 'month:2026-11' });
  });

  it('spans a quarter across the DST change (Q1 in EST to April in EDT, Q4 from EDT to EST)', () => {
    expect(window('quarter', '2026-02-10T00:00:00Z', NY)).toEqual({ start: '2026-01-01T05:00:00.000Z', end: '2026-04-01T04:00:00.000Z', key: 'quarter:2026-Q1' });
    expect(window('quarter', '2026-11-30T00:00:00Z', NY)).toEqual({ start: '2026-10-01T04:00:00.000Z', end: '2027-01-01T05:00:00.000Z', key: 'quarter:2026-Q4' });
  });

  it('keeps the old year until New York midnight, five hours after UTC midnight', () => {
    expect(window('year', '2027-01-01T04:59:59Z', NY)).toEqual({ start: '2026-01-01T05:00:00.000Z', end: '2027-01-01T05:00:00.000Z', key: 'year:2026' });
    expect(window('year', '2027-01-01T05:00:00Z', NY)).toEqual({ start: '2027-01-01T05:00:00.000Z', end: '2028-01-01T05:00:00.000Z', key: 'year:2027' });
    expect(window('month', '2027-01-01T04:59:59Z', NY).key).toBe('month:2026-12');
    expect(window('quarter', '2027-01-01T05:00:00Z', NY).key).toBe('quarter:2027-Q1');
  });
});

describe('calendar periods in Asia/Kolkata (UTC+5:30)', () => {
  const IN = 'Asia/Kolkata';

  it('starts the new year at 18:30 UTC on December 31', () => {
    expect(window('year', '2026-12-31T18:29:59Z', IN)).toEqual({ start: '2025-12-31T18:30:00.000Z', end: '2026-12-31T18:30:00.000Z', key: 'year:2026' });
    expect(window('year', '2026-12-31T18:30:00Z', IN)).toEqual({ start: '2026-12-31T18:30:00.000Z', end: '2027-12-31T18:30:00.000Z', key: 'year:2027' });
    expect(window('quarter', '2026-12-31T18:30:00Z', IN).key).toBe('quarter:2027-Q1');
    expect(window('month', '2026-12-31T18:30:00Z', IN).key).toBe('month:2027-01');
  });

  it('puts every quarter boundary at 18:30 UTC of the day before', () => {
    expect(window('quarter', '2026-03-31T18:29:00Z', IN)).toEqual({ start: '2025-12-31T18:30:00.000Z', end: '2026-03-31T18:30:00.000Z', key: 'quarter:2026-Q1' });
    expect(window('quarter', '2026-03-31T18:30:00Z', IN)).toEqual({ start: '2026-03-31T18:30:00.000Z', end: '2026-06-30T18:30:00.000Z', key: 'quarter:2026-Q2' });
    expect(window('quarter', '2026-08-15T00:00:00Z', IN)).toEqual({ start: '2026-06-30T18:30:00.000Z', end: '2026-09-30T18:30:00.000Z', key: 'quarter:2026-Q3' });
  });

  it('is unmoved by the American DST change', () => {
    expect(window('month', '2026-03-08T12:00:00Z', IN)).toEqual({ start: '2026-02-28T18:30:00.000Z', end: '2026-03-31T18:30:00.000Z', key: 'month:2026-03' });
  });
});

describe('calendar periods in UTC', () => {
  it('aligns quarters and years to UTC midnight', () => {
    expect(window('quarter', '2026-05-05T00:00:00Z', 'UTC')).toEqual({ start: '2026-04-01T00:00:00.000Z', end: '2026-07-01T00:00:00.000Z', key: 'quarter:2026-Q2' });
    expect(window('year', '2026-12-31T23:59:59Z', 'UTC')).toEqual({ start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z', key: 'year:2026' });
  });
});

describe('PeriodClock', () => {
  it('keeps a window per zone, so two customers in different zones roll at their own midnights', () => {
    const clock = new PeriodClock('UTC');
    const now = at('2026-12-31T20:00:00Z');
    expect(iso(clock.window('year', now).end)).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(clock.window('year', now, 'Asia/Kolkata').end)).toBe('2027-12-31T18:30:00.000Z');
    expect(iso(clock.window('year', now, 'America/New_York').end)).toBe('2027-01-01T05:00:00.000Z');
    expect(clock.key('year', now, 'Asia/Kolkata')).toBe('year:2027');
    expect(clock.key('year', now)).toBe('year:2026');
  });
});
