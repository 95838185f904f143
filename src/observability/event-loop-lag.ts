import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

// How late this thread's event loop runs timers: the time a ready request
// waits before its handler can start. Sampled by a libuv timer every 10 ms;
// each read covers the time since the previous read (a scrape interval).
// Node reports the whole timer interval, so the resolution is subtracted.

export interface LagReading { p50: number; p99: number; max: number; mean: number } // seconds

export class EventLoopLag {
  readonly #h: IntervalHistogram;
  readonly #resolutionNs: number;

  constructor(resolutionMs = 10) {
    this.#resolutionNs = resolutionMs * 1e6;
    this.#h = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#h.enable();
  }

  /** Lag since the previous read, then starts a new window. */
  read(): LagReading {
    const h = this.#h;
    const ns = (v: number) => (Number.isFinite(v) ? Math.max(0, v - this.#resolutionNs) / 1e9 : 0);
    const r = h.count === 0
      ? { p50: 0, p99: 0, max: 0, mean: 0 }
      : { p50: ns(h.percentile(50)), p99: ns(h.percentile(99)), max: ns(h.max), mean: ns(h.mean) };
    h.reset();
    return r;
  }

  stop(): void {
    this.#h.disable();
  }
}
