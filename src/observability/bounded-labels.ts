// Label values that come from outside (a model name a client typed, a
// customer id an app key named) would let anyone create unbounded series.
// The first `capacity` distinct values keep their name; later ones share
// OTHER, so a shard's series count has a fixed ceiling.

export const OTHER = '__other__';

export class BoundedLabels {
  readonly #seen = new Set<string>();

  constructor(readonly capacity: number) {}

  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.capacity) return OTHER;
    this.#seen.add(value);
    return value;
  }
}
