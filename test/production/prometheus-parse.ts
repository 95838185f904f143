// A strict reader of the Prometheus text format (0.0.4), for tests: every
// line must be a comment, blank, or `name{labels} value`; anything else throws.
// NaN in any case, as Prometheus (Go's ParseFloat) accepts it; prom-client writes "Nan".

export interface Sample { name: string; labels: Record<string, string>; value: number }

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.]+(?:e[+-]?\d+)?|[Nn][Aa][Nn]|\+Inf|-Inf))(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): { samples: Sample[]; types: Record<string, string> } {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types[name!] = type!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : /nan/i.test(m[3]!) ? NaN : Number(m[3]);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

function sortedBuckets(buckets: Sample[]): { le: number; count: number }[] {
  return buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), count: b.value })).sort((a, b) => a.le - b.le);
}

/** PromQL's histogram_quantile over cumulative `_bucket` samples (linear within a bucket). */
export function histogramQuantile(q: number, buckets: Sample[]): number {
  const bs = sortedBuckets(buckets);
  const total = bs[bs.length - 1]!.count;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / Math.max(1, b.count - prevCount));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** The [lower, upper] bounds of the bucket a value falls in. */
export function bucketOf(value: number, buckets: Sample[]): [number, number] {
  let lo = 0;
  for (const b of sortedBuckets(buckets)) {
    if (value <= b.le) return [lo, b.le];
    lo = b.le;
  }
  return [lo, Infinity];
}
