import { Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** One label set of a FastHistogram: what a model call records into, with no lookup. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface Series extends HistogramSeries {
  readonly labels: LabelValues<string>;
  readonly counts: Float64Array; // per bucket, not cumulative
  sum: number;
  count: number;
}

/** The shape prom-client keeps per label set (lib/histogram.js); filled in only when the registry is read. */
interface PromEntry {
  labels: LabelValues<string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A prom-client Histogram for the call path. prom-client's own observe()
 * hashes and validates the labels and finds the bucket through a
 * number-to-string property lookup on every call (0.4–0.8 µs, twice per
 * model call); here a call adds to typed arrays of a series fetched once,
 * and the counts are copied into prom-client's structure when the registry
 * is read (its `collect` hook), so the exported text and JSON are the same.
 */
export class FastHistogram<T extends string = string> extends Histogram<T> {
  readonly #bounds: number[];
  readonly #series = new Map<string, Series>();

  constructor(config: Omit<HistogramConfiguration<T>, 'collect'> & { buckets: number[] }) {
    const sync = () => this.#sync();
    super({ ...config, collect: sync });
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  /** The series of a label set (keep it: fetching hashes the labels). */
  series(labels: LabelValues<T> = {} as LabelValues<T>): HistogramSeries {
    // prom-client's own key for a label set (util.js hashObject), so a series replaces the entry prom-client keeps for it.
    let key = '';
    for (const n of Object.keys(labels).sort()) key += `${n}:${labels[n as T]},`;
    let s = this.#series.get(key);
    if (!s) {
      const bounds = this.#bounds;
      const series: Series = {
        labels: { ...labels },
        counts: new Float64Array(bounds.length),
        sum: 0,
        count: 0,
        observe(v: number) {
          if (!Number.isFinite(v)) return;
          // Same bucket as prom-client: the first bound >= v; above the last, only +Inf (count).
          let lo = 0;
          let hi = bounds.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (bounds[mid]! < v) lo = mid + 1;
            else hi = mid;
          }
          if (lo < bounds.length) series.counts[lo]! += 1;
          series.sum += v;
          series.count += 1;
        },
      };
      this.#series.set(key, (s = series));
    }
    return s;
  }

  override reset(): void {
    super.reset();
    if (!(#series in this)) return; // prom-client resets once inside its constructor, before our fields exist
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  #sync(): void {
    const map = (this as unknown as { hashMap: Record<string, PromEntry> }).hashMap;
    for (const [key, s] of this.#series) {
      if (s.count === 0) continue;
      const bucketValues: Record<number, number> = {};
      for (let i = 0; i < this.#bounds.length; i++) bucketValues[this.#bounds[i]!] = s.counts[i]!;
      map[key] = { labels: s.labels, bucketValues, sum: s.sum, count: s.count };
    }
  }
}
