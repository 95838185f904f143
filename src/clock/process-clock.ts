// The process's notion of "now", for tests and demos only.
//
// `TOLLGATE_CLOCK_START=2026-06-30T23:59:50Z` makes the proxy's clock read
// that instant when the process starts and then advance in real time, in
// the main thread and in every shard worker. Tests use it to run on a fixed
// calendar (a month's last seconds, a year end) whatever day the suite runs
// on; a demo can show a month rolling over. Never set it in production: the
// ledger's row timestamps, budget periods and resets_at all follow it.
//
// Why shift the Date global instead of passing a clock object around: the
// decision core already takes `now` as a parameter, but the callers that
// produce it (shards, admin API, alerts, retention, reports' default ranges,
// usage rows) read Date.now() / new Date() in some fifty places owned by many
// modules. Shifting Date once, before anything else loads, makes all of them
// agree with one another without threading a clock through every one (and
// without a new call site silently reading the real time). The shift is a
// constant offset, so durations (timeouts, TTLs, latency via
// performance.now()) are unchanged. With the variable unset nothing is
// touched and Date is the engine's own.
//
// The offset is computed once, in the process that saw TOLLGATE_CLOCK_START,
// and handed down as TOLLGATE_CLOCK_OFFSET_MS (worker threads and child
// processes copy process.env when they start), so a worker started later
// joins the same clock instead of restarting it at the start instant.

export const CLOCK_START_ENV = 'TOLLGATE_CLOCK_START';
/** Internal: set by the process that read CLOCK_START_ENV, for its workers and children. */
export const CLOCK_OFFSET_ENV = 'TOLLGATE_CLOCK_OFFSET_MS';

type Env = Record<string, string | undefined>;

/**
 * Milliseconds to add to the real time, from the environment: 0 when neither
 * variable is set; a message naming the variable when its value is unusable.
 */
export function clockOffsetFromEnv(env: Env, realNow: number): number | string {
  const inherited = env[CLOCK_OFFSET_ENV];
  if (inherited !== undefined && inherited !== '') {
    const n = Number(inherited);
    return Number.isSafeInteger(n) ? n : `${CLOCK_OFFSET_ENV}: expected whole milliseconds (got "${inherited.slice(0, 40)}")`;
  }
  const start = env[CLOCK_START_ENV];
  if (start === undefined || start === '') return 0;
  // An explicit zone keeps the instant independent of the machine's TZ.
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(start) ? Date.parse(start) : NaN;
  if (Number.isNaN(t)) return `${CLOCK_START_ENV}: expected an ISO time with a zone, e.g. 2026-06-30T23:59:50Z (got "${start.slice(0, 40)}")`;
  return t - realNow;
}

/**
 * A Date constructor whose `Date.now()` and `new Date()` read the real time
 * plus `offsetMs`; every other use (`new Date(t)`, Date.parse, Date.UTC,
 * instanceof, the prototype) is the real Date's.
 */
export function shiftedDate(RealDate: DateConstructor, offsetMs: number): DateConstructor {
  const realNow = RealDate.now.bind(RealDate);
  const now = () => realNow() + offsetMs;
  return new Proxy(RealDate, {
    construct: (target, args, newTarget) => Reflect.construct(target, args.length ? args : [now()], newTarget),
    apply: () => new RealDate(now()).toString(), // Date() called without new answers a string
    get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
  });
}

let installed = 0;

/**
 * Shifts this thread's Date by the offset the environment asks for (once),
 * and records the offset for workers and child processes. Returns the offset.
 * Throws on an unusable value: a test or demo must not silently run on the
 * real calendar.
 */
export function installProcessClock(env: Env = process.env): number {
  if (installed) return installed;
  const offset = clockOffsetFromEnv(env, Date.now());
  if (typeof offset === 'string') throw new Error(offset);
  if (offset === 0) return 0;
  globalThis.Date = shiftedDate(Date, offset);
  env[CLOCK_OFFSET_ENV] = String(offset);
  installed = offset;
  return offset;
}

/** The offset installed in this thread (0: the real clock). */
export function processClockOffset(): number {
  return installed;
}
