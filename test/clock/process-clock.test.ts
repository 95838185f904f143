import { describe, expect, it } from 'vitest';
import { CLOCK_OFFSET_ENV, CLOCK_START_ENV, clockOffsetFromEnv, shiftedDate } from '../../src/clock/process-clock.js';

// The test/demo clock as pure pieces: the offset read from the environment
// and the shifted Date constructor (not installed here: the global Date of
// this test process stays the real one).

const REAL = Date.parse('2026-03-14T10:00:00Z');

describe('process clock offset', () => {
  it('is zero when no variable is set', () => {
    expect(clockOffsetFromEnv({}, REAL)).toBe(0);
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '' }, REAL)).toBe(0);
  });

  it('makes the clock read the start instant now', () => {
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2026-06-30T23:59:50Z' }, REAL)).toBe(Date.parse('2026-06-30T23:59:50Z') - REAL);
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2027-01-01T01:00:00+01:00' }, REAL)).toBe(Date.parse('2027-01-01T00:00:00Z') - REAL);
  });

  it('takes the offset a parent process handed down over the start instant, so a later worker joins the same clock', () => {
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2026-06-30T23:59:50Z', [CLOCK_OFFSET_ENV]: '-5000' }, REAL)).toBe(-5000);
  });

  it('names the variable when its value is not an ISO time with a zone', () => {
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2026-06-30 23:59' }, REAL)).toMatch(/^TOLLGATE_CLOCK_START: expected an ISO time with a zone/);
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2026-06-30T23:59:50' }, REAL)).toMatch(/^TOLLGATE_CLOCK_START:/); // no zone: machine-dependent
    expect(clockOffsetFromEnv({ [CLOCK_START_ENV]: '2026-13-40T00:00:00Z' }, REAL)).toMatch(/^TOLLGATE_CLOCK_START:/);
    expect(clockOffsetFromEnv({ [CLOCK_OFFSET_ENV]: '1.5' }, REAL)).toMatch(/^TOLLGATE_CLOCK_OFFSET_MS:/);
  });
});

describe('shifted Date', () => {
  const offset = Date.parse('2026-12-31T23:59:59Z') - Date.now();
  const D = shiftedDate(Date, offset);

  it('reads the shifted time from Date.now() and new Date(), advancing in real time', async () => {
    const a = D.now();
    expect(Math.abs(a - Date.parse('2026-12-31T23:59:59Z'))).toBeLessThan(1000);
    expect(Math.abs(new D().getTime() - a)).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 30));
    expect(D.now() - a).toBeGreaterThanOrEqual(25);
    expect(D.now() - Date.now()).toBeGreaterThanOrEqual(offset - 5);
  });

  it('leaves explicit times, parsing and instanceof as the real Date has them', () => {
    expect(new D(0).toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(new D('2026-02-01T00:00:00Z').getTime()).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(new D(2026, 0, 1, 0, 0, 0).getFullYear()).toBe(2026);
    expect(D.UTC(2026, 0, 1)).toBe(Date.UTC(2026, 0, 1));
    expect(D.parse('2026-02-01T00:00:00Z')).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(new D() instanceof Date).toBe(true);
    expect(new Date() instanceof D).toBe(true);
    expect(typeof (D as unknown as () => string)()).toBe('string');
    expect((D as unknown as () => string)()).toMatch(/2027|2026/);
  });
});
