import { CircuitBreaker, type Admission, type BreakerSettings, type BreakerState } from './circuit-breaker.js';

// What one shard knows about each target's health: its circuit breaker,
// the last error, and recent time-to-answer latencies. Per shard on
// purpose: the breaker is consulted on every attempt and must cost no
// cross-thread traffic. The price: with N shards a dead target gets up to
// N probes per cooldown (one per shard), and up to N × failures calls
// before every shard has opened its breaker. GET /admin/providers merges
// the shards' snapshots (mergeHealth).

export const HEALTHY = 0;
export const PROBE = 1;
export const COOLING = 2;
export type Availability = typeof HEALTHY | typeof PROBE | typeof COOLING;

const LATENCY_SAMPLES = 256;
/** Targets made up on the fly (unrouted models) are capped so odd model names cannot grow memory. */
const MAX_ENTRIES = 4096;

interface Entry {
  provider: string;
  model: string;
  breaker: CircuitBreaker;
  calls: number;
  failures: number;
  lastError: string | null;
  lastErrorAt: number;
  latencies: Float64Array;
  latencyCount: number;
  configured: boolean;
}

/** One shard's view of one target, as sent to the supervisor. */
export interface TargetSnapshot {
  target: string;
  provider: string;
  model: string;
  state: BreakerState;
  openUntil: number;
  consecutiveFailures: number;
  calls: number;
  failures: number;
  lastError: string | null;
  lastErrorAt: number;
  latenciesMs: number[];
}

export interface HealthTarget {
  id: string;
  provider: { name: string };
  model: string;
  breaker: BreakerSettings;
}

export class TargetHealth {
  readonly #entries = new Map<string, Entry>();

  /**
   * Declares the configured targets (at start and on reload). A target that
   * stays keeps its breaker and history (new settings apply from now on);
   * one that went away is forgotten.
   */
  configure(targets: HealthTarget[]): void {
    const keep = new Set<string>();
    for (const t of targets) {
      keep.add(t.id);
      const e = this.#entries.get(t.id);
      if (e) {
        e.breaker.settings = t.breaker;
        e.configured = true;
      } else {
        this.#entries.set(t.id, newEntry(t, true));
      }
    }
    for (const [id, e] of this.#entries) if (!keep.has(id) && e.configured) this.#entries.delete(id);
  }

  #entry(t: HealthTarget): Entry {
    let e = this.#entries.get(t.id);
    if (!e) {
      if (this.#entries.size >= MAX_ENTRIES) this.#evictOne();
      e = newEntry(t, false);
      this.#entries.set(t.id, e);
    }
    return e;
  }

  #evictOne() {
    for (const [id, e] of this.#entries) {
      if (!e.configured && e.breaker.state(0) === 'closed') {
        this.#entries.delete(id);
        return;
      }
    }
  }

  /** When its cooldown ends (0 when its breaker is closed). */
  openUntil(t: HealthTarget): number {
    return this.#entries.get(t.id)?.breaker.openUntil ?? 0;
  }

  /**
   * HEALTHY: send calls. PROBE: cooldown over and no probe out, so the next
   * call should be its probe. COOLING: skip it (cooling down, or its single
   * probe is out).
   */
  availability(t: HealthTarget, now: number): Availability {
    const b = this.#entries.get(t.id)?.breaker;
    if (!b) return HEALTHY;
    if (b.probeReady(now)) return PROBE;
    return b.blocked(now) ? COOLING : HEALTHY;
  }

  admit(t: HealthTarget, now: number): Admission {
    return this.#entry(t).breaker.admit(now);
  }

  /** The target answered (2xx, or an error that is the request's fault, not the target's). */
  succeeded(t: HealthTarget, probe: boolean, latencyMs: number): void {
    const e = this.#entry(t);
    e.calls++;
    e.breaker.succeeded(probe);
    e.latencies[e.latencyCount++ % LATENCY_SAMPLES] = latencyMs;
  }

  failed(t: HealthTarget, probe: boolean, now: number, error: string, retryAfterMs?: number): void {
    const e = this.#entry(t);
    e.calls++;
    e.failures++;
    e.lastError = error;
    e.lastErrorAt = now;
    e.breaker.failed(now, probe, retryAfterMs);
  }

  /** A failure after the answer started (a cut stream): recorded, and counts toward opening. */
  failedLate(t: HealthTarget, now: number, error: string): void {
    const e = this.#entry(t);
    e.failures++;
    e.lastError = error;
    e.lastErrorAt = now;
    e.breaker.failed(now, false);
  }

  abandoned(t: HealthTarget, probe: boolean): void {
    this.#entries.get(t.id)?.breaker.abandoned(probe);
  }

  snapshot(now: number): TargetSnapshot[] {
    const out: TargetSnapshot[] = [];
    for (const [id, e] of this.#entries) {
      const n = Math.min(e.latencyCount, LATENCY_SAMPLES);
      out.push({
        target: id,
        provider: e.provider,
        model: e.model,
        state: e.breaker.state(now),
        openUntil: e.breaker.openUntil,
        consecutiveFailures: e.breaker.consecutiveFailures,
        calls: e.calls,
        failures: e.failures,
        lastError: e.lastError,
        lastErrorAt: e.lastErrorAt,
        latenciesMs: Array.from(e.latencies.subarray(0, n)),
      });
    }
    return out;
  }
}

function newEntry(t: HealthTarget, configured: boolean): Entry {
  return {
    provider: t.provider.name,
    model: t.model,
    breaker: new CircuitBreaker(t.breaker),
    calls: 0,
    failures: 0,
    lastError: null,
    lastErrorAt: 0,
    latencies: new Float64Array(LATENCY_SAMPLES),
    latencyCount: 0,
    configured,
  };
}

/** The public view of one target across shards (GET /admin/providers). */
export interface TargetHealthView {
  target: string;
  provider: string;
  model: string;
  /** healthy: every shard's breaker closed; cooling_down: some shard skips it; half_open: some shard is about to probe it. */
  state: 'healthy' | 'cooling_down' | 'half_open';
  cooling_down_until: string | null;
  consecutive_failures: number;
  calls: number;
  failures: number;
  last_error: { message: string; at: string } | null;
  latency_ms: { p50: number | null; p99: number | null; samples: number };
  shards: { shard: number; state: BreakerState; until: string | null }[];
}

/** Merges per-shard snapshots (index = shard number) into one view per target. */
export function mergeHealth(perShard: TargetSnapshot[][], now: number): TargetHealthView[] {
  const byTarget = new Map<string, { snaps: { shard: number; s: TargetSnapshot }[] }>();
  perShard.forEach((list, shard) => {
    for (const s of list) {
      let m = byTarget.get(s.target);
      if (!m) byTarget.set(s.target, (m = { snaps: [] }));
      m.snaps.push({ shard, s });
    }
  });
  const views: TargetHealthView[] = [];
  for (const [target, { snaps }] of byTarget) {
    const first = snaps[0]!.s;
    let until = 0, consecutive = 0, calls = 0, failures = 0, lastAt = 0;
    let lastError: string | null = null;
    let anyOpen = false, anyHalf = false;
    const samples: number[] = [];
    for (const { s } of snaps) {
      if (s.state === 'open') anyOpen = true;
      if (s.state === 'half_open') anyHalf = true;
      if (s.state === 'open') until = Math.max(until, s.openUntil);
      consecutive = Math.max(consecutive, s.consecutiveFailures);
      calls += s.calls;
      failures += s.failures;
      if (s.lastError && s.lastErrorAt >= lastAt) {
        lastAt = s.lastErrorAt;
        lastError = s.lastError;
      }
      for (const x of s.latenciesMs) samples.push(x);
    }
    samples.sort((a, b) => a - b);
    const pct = (p: number) => (samples.length ? round1(samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!) : null);
    views.push({
      target,
      provider: first.provider,
      model: first.model,
      state: anyOpen ? 'cooling_down' : anyHalf ? 'half_open' : 'healthy',
      cooling_down_until: until > now ? new Date(until).toISOString() : null,
      consecutive_failures: consecutive,
      calls,
      failures,
      last_error: lastError ? { message: lastError, at: new Date(lastAt).toISOString() } : null,
      latency_ms: { p50: pct(50), p99: pct(99), samples: samples.length },
      shards: snaps.map(({ shard, s }) => ({ shard, state: s.state, until: s.state === 'open' ? new Date(s.openUntil).toISOString() : null })),
    });
  }
  return views.sort((a, b) => a.target.localeCompare(b.target));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
