// Reading Tollgate's /metrics (Prometheus text) in the benches.

/** Every sample of the series `name`: its label text (`{…}` or '') and value. */
export function series(text, name) {
  const out = [];
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) out.push({ labels: m[1] ?? '', value: Number(m[2]) });
  return out;
}

/** The series' samples added up (over shards, labels). */
export const sum = (text, name) => series(text, name).reduce((n, s) => n + s.value, 0);

/** A histogram's cumulative count per upper bound (`le`, as written), added up over shards. */
export function buckets(text, name) {
  const out = new Map();
  for (const s of series(text, `${name}_bucket`)) {
    const le = /le="([^"]+)"/.exec(s.labels)[1];
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}
