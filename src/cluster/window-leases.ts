import hdr from 'hdr-histogram-js';
import type { RateWindows } from '../policy/rate-windows.js';
import type { RateShort, RateShortfallVerdict } from '../policy/velocity.js';
import type { RateRef } from '../policy/scope-policy.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { RedisLink } from './redis-link.js';
import { windowKey } from './redis-keys.js';
import { parseWindowGrant, windowArgs } from './window-script.js';

// Main-thread half of global velocity windows (issue 15.1). Like budgets,
// a window is leased: each bucket of the shared window table carries what
// Redis granted this node for it, shards admit calls within that grant in
// memory, and only a call that finds the grant short waits on Redis (one
// atomic script, window-script.ts). A grant is the call's amount plus a
// share of what the window has free, and what a bucket leaves unused carries
// into the next, so a busy window far from its limit rarely waits on Redis
// at all (the carry is written to Redis on the next tick).
//
// Every flushInterval the buckets are reconciled with Redis in the same
// pipeline as the budget leases: use beyond a grant (tokens settled above
// their estimate; calls admitted without Redis under redisDown: open) is
// reported, and the unused grant of a bucket that is over is given back.
//
// Bound: for node clocks within one bucket of each other, the calls admitted
// across all nodes in any whole-bucket window stay within the limit, plus
// what single-node windows also let through (settles above the estimate),
// plus under redisDown: open what nodes admitted while Redis was away.

interface Known { ref: RateRef; lastUse: number }

export interface WindowLeaseOptions { keyPrefix: string; open: boolean; ppm: number }

export class WindowLeases {
  readonly #known = new Map<number, Known>();
  /** One grant request per window and bucket at a time: calls that come up short meanwhile wait for it. */
  readonly #asking = new Map<string, Promise<RateShortfallVerdict>>();
  grants = 0;
  refusals = 0;
  /** How long calls that found their grant short waited for Redis (µs). */
  readonly #waits = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

  constructor(private readonly windows: RateWindows, private readonly link: RedisLink, private readonly opts: WindowLeaseOptions) {
    link.whenUp(() => this.#resend(Date.now()));
  }

  /**
   * Redis is back. If it lost a window (restarted empty), every node says
   * again what it holds of each live bucket (what it used plus its grant
   * left), so the window counts them before granting anyone more; a window
   * Redis kept is left alone (resending would count it twice).
   */
  #resend(now: number): void {
    const checks: Promise<void>[] = [];
    for (const [slot, { ref }] of this.#known) {
      const key = windowKey(this.opts.keyPrefix, ref.key);
      const current = this.windows.epochOf(ref.windowMs, now);
      checks.push(this.link.command<number>((p) => p.exists(key)).then((n) => {
        if (Number(n) > 0) return;
        for (const epoch of this.windows.epochsOf(slot)) {
          const held = epoch > current - this.windows.buckets ? this.windows.grantedIn(slot, epoch) : 0;
          if (held > 0) this.link.write((p) => p.hincrby(key, String(epoch), held));
        }
        this.link.write((p) => p.pexpire(key, 2 * ref.windowMs));
      }, () => {}));
    }
    // Until then the timer reports nothing: its first write would make a lost window look kept.
    this.#resending = Promise.all(checks).then(() => {
      this.#resending = undefined;
    });
  }

  #resending: Promise<void> | undefined;

  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    if (m.t !== 'window-shortfall') return false;
    const t0 = performance.now();
    void this.ask(m.short, Date.now()).then((verdict) => {
      this.#waits.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      post({ t: 'window-shortfall-answer', id: m.id, verdict });
    });
    return true;
  }

  ask(short: RateShort, now: number): Promise<RateShortfallVerdict> {
    const { ref, epoch } = short;
    this.#known.set(ref.slot, { ref, lastUse: now });
    const k = `${ref.slot}|${epoch}`;
    const pending = this.#asking.get(k);
    if (pending) return pending.then((v) => (v.v === 'retry' ? v : this.ask(short, now)));
    const p = this.#grant(short, now).finally(() => this.#asking.delete(k));
    this.#asking.set(k, p);
    return p;
  }

  async #grant({ ref, epoch, amount }: RateShort, now: number): Promise<RateShortfallVerdict> {
    const unavailable: RateShortfallVerdict = { v: 'unavailable', open: this.opts.open };
    if (!this.link.up) return unavailable;
    const key = windowKey(this.opts.keyPrefix, ref.key);
    const buckets = this.windows.buckets;
    // Grants stranded in buckets that are over go back first, in the same round trip, so they serve this call.
    this.#reconcile(ref.slot, ref, epoch, 0);
    try {
      const g = await this.link.command(
        (p) => p.tgWindow(key, ...windowArgs({ epoch, buckets, limit: ref.limit, need: amount, ppm: this.opts.ppm, now, widthMs: ref.windowMs / buckets })),
        parseWindowGrant,
      );
      if (g.granted <= 0) {
        this.refusals++;
        return { v: 'exhausted', retryAfterMs: g.retryAfterMs };
      }
      this.grants++;
      // The bucket moved on while Redis answered: the grant is of no use here, give it back.
      if (!this.windows.grant(ref.slot, epoch, g.granted)) this.link.write((p) => p.hincrby(key, String(epoch), -g.granted));
      return { v: 'retry' };
    } catch {
      return unavailable;
    }
  }

  /** One timer beat: report use beyond grants, give back what finished buckets (every bucket when `final`) did not use. */
  sync(now: number, final = false): void {
    if (!this.link.up || this.#resending) return; // kept in the buckets: reported once Redis is back
    for (const [slot, { ref, lastUse }] of this.#known) {
      // A call decided with a slightly older `now` may still land in the previous bucket: one bucket of grace.
      const live = this.#reconcile(slot, ref, this.windows.epochOf(ref.windowMs, now), final ? -1 : 1);
      if (!live && now - lastUse > ref.windowMs) this.#known.delete(slot);
    }
  }

  /**
   * Queues (for the next pipeline) the report of use beyond grants in every
   * live bucket, and the return of unused grants of buckets older than
   * `current - grace` (-1: every bucket). Returns whether the window has a live bucket.
   */
  #reconcile(slot: number, ref: RateRef, current: number, grace: number): boolean {
    const key = windowKey(this.opts.keyPrefix, ref.key);
    let live = false;
    for (const epoch of this.windows.epochsOf(slot)) {
      if (epoch <= current - this.windows.buckets) continue;
      live = true;
      // A grant carried over from the bucket before (rate-windows.ts) moves in Redis too; a lost decrement only over-counts.
      const carried = this.windows.takeCarried(slot, epoch);
      if (carried) {
        this.link.command((p) => p.hincrby(key, String(epoch), carried)).catch(() => this.windows.putCarried(slot, epoch, carried));
        this.link.write((p) => p.hincrby(key, String(epoch - 1), -carried));
      }
      // Taken atomically: a call in the bucket either took its share before, or finds nothing left after.
      const left = this.windows.takeLeft(slot, epoch, epoch < current - grace);
      if (!left) continue;
      // Unused grant (left > 0) goes back; use beyond grants (left < 0) is added. A lost return only over-counts.
      const undo = () => left < 0 && this.windows.putLeft(slot, epoch, left);
      this.link.command((p) => p.hincrby(key, String(epoch), -left)).catch(undo);
      this.link.write((p) => p.pexpire(key, 2 * ref.windowMs));
    }
    return live;
  }

  get stats() {
    const w = this.#waits;
    return {
      windows: this.#known.size, grants: this.grants, refusals: this.refusals,
      grant_wait_ms: { count: w.totalCount, p50: w.getValueAtPercentile(50) / 1000, p99: w.getValueAtPercentile(99) / 1000, max: w.maxValue / 1000 },
    };
  }
}
