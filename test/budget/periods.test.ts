import { describe, expect, it } from 'vitest';
import { periodKey, periodWindow } from '../../src/budget/periods.js';

const iso = (t: number) => new Date(t).toISOString();

describe('budget periods', () => {
  const now = Date.UTC(2026, 10, 25, 15, 30); // Wednesday 2026-11-25 15:30 UTC

  it('aligns days, ISO weeks and months to UTC midnight', () => {
    expect(iso(periodWindow('day', now).start)).toBe('2026-11-25T00:00:00.000Z');
    expect(iso(periodWindow('day', now).end)).toBe('2026-11-26T00:00:00.000Z');
    expect(iso(periodWindow('week', now).start)).toBe('2026-11-23T00:00:00.000Z');
    expect(iso(periodWindow('week', now).end)).toBe('2026-11-30T00:00:00.000Z');
    expect(iso(periodWindow('month', now).start)).toBe('2026-11-01T00:00:00.000Z');
    expect(iso(periodWindow('month', now).end)).toBe('2026-12-01T00:00:00.000Z');
  });

  it('rolls a December month into the next year', () => {
    expect(iso(periodWindow('month', Date.UTC(2026, 11, 31, 23)).end)).toBe('2027-01-01T00:00:00.000Z');
  });

  it('follows a configured time zone, including its DST offset', () => {
    // 2026-07-01 02:00 UTC is 2026-06-30 22:00 in New York (UTC-4 in summer).
    const w = periodWindow('day', Date.UTC(2026, 6, 1, 2), 'America/New_York');
    expect(iso(w.start)).toBe('2026-06-30T04:00:00.000Z');
    expect(iso(periodWindow('month', Date.UTC(2026, 6, 1, 2), 'America/New_York').start)).toBe('2026-06-01T04:00:00.000Z');
  });

  it('names periods with stable keys', () => {
    expect(periodKey('day', periodWindow('day', now))).toBe('day:2026-11-25');
    expect(periodKey('week', periodWindow('week', now))).toBe('week:2026-11-23');
    expect(periodKey('month', periodWindow('month', now))).toBe('month:2026-11');
    expect(periodKey('total', periodWindow('total', now))).toBe('total');
  });
});
