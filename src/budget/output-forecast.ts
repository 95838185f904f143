import { LinkedList, type Linked } from '../collections/linked-list.js';

// How many output tokens a call without its own cap is held for: a high
// percentile of the recent completions of the same customer and model, with
// a margin, clamped to [minTokens, the model's max]; a default until the
// pair has history. Holding the model's whole maximum (16k+ tokens) would
// refuse a customer with room for a few hundred tokens a 40-token answer.
//
// Memory is bounded: each (customer, model) keeps a ring of its last
// RING_SIZE completion sizes (per choice), and the map keeps the most recently
// used `maxKeys` pairs (least recently used dropped first). Each shard keeps
// its own: the forecast is an estimate, never a limit, so shards that
// disagree a little cost nothing.
//
// Every uncapped call asks for a hold and records its size, so both are kept
// cheap: the ring keeps its values sorted as they arrive too (the percentile
// is one read, not a copy and a sort per call; 256 more bytes a pair), and the
// recency order is a LinkedList through the rings (a use moves a ring to its
// end; the maps change only when a pair is added or dropped, not twice per call).

export interface ForecastOptions {
  /** Percentile of recent completions held, 1..100. */
  percentile: number;
  /** Multiplier over the percentile (≥ 1). */
  margin: number;
  /** Output tokens held while a customer and model have fewer than `minSamples` completions. */
  defaultTokens: number;
  /** The smallest hold. */
  minTokens: number;
  /** Completions needed before the percentile alone decides (before that the default is a floor). */
  minSamples: number;
  /** (customer, model) pairs remembered. */
  maxKeys: number;
}

export const RING_SIZE = 64;

export class Ring implements Linked<Ring> {
  /** The last `count` values in arrival order (a ring: the next goes at `at`, over the oldest once full). */
  readonly values = new Uint32Array(RING_SIZE);
  /** The same `count` values, ascending. */
  readonly sorted = new Uint32Array(RING_SIZE);
  count = 0;
  at = 0;
  /** Its place in the recency list (OutputForecast): older, newer. */
  prev: Ring | undefined = undefined;
  next: Ring | undefined = undefined;
  listed = false;

  constructor(readonly customer: string, readonly model: string) {}

  push(v: number): void {
    const s = this.sorted;
    let n = this.count;
    if (n === RING_SIZE) {
      // The value it replaces leaves the sorted values too (any of its equals: they are the same number).
      const i = lowerBound(s, n, this.values[this.at]!);
      s.copyWithin(i, i + 1, n--);
    }
    const i = lowerBound(s, n, v);
    s.copyWithin(i + 1, i, n);
    s[i] = v;
    this.values[this.at] = v;
    this.at = (this.at + 1) % RING_SIZE;
    if (this.count < RING_SIZE) this.count++;
  }

  /** The value of rank ⌈p% × count⌉ (1-based, nearest rank) among the values; count must be > 0. */
  percentile(p: number): number {
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
    return this.sorted[rank]!;
  }
}

/** The first index in s[0, n) (ascending) whose value is ≥ v. */
function lowerBound(s: Uint32Array, n: number, v: number): number {
  let lo = 0;
  while (lo < n) {
    const mid = (lo + n) >>> 1;
    if (s[mid]! < v) lo = mid + 1;
    else n = mid;
  }
  return lo;
}

export class OutputForecast {
  /** customer → model → ring: looked up by the strings the call already has (no key made per call). */
  readonly #rings = new Map<string, Map<string, Ring>>();
  /** Least recently used first (dropped first), most recently used last. */
  readonly #recency = new LinkedList<Ring>();

  constructor(private readonly opts: ForecastOptions) {}

  /** Output tokens to hold per choice; `modelMax` is the model's output ceiling. */
  hold(customer: string, model: string, modelMax: number): number {
    const o = this.opts;
    const ring = this.#touch(customer, model, false);
    let tokens = o.defaultTokens;
    if (ring && ring.count > 0) {
      const seen = Math.ceil(ring.percentile(o.percentile) * o.margin);
      tokens = ring.count >= o.minSamples ? seen : Math.max(seen, o.defaultTokens);
    }
    return Math.max(1, Math.min(modelMax, Math.max(o.minTokens, tokens)));
  }

  /** Records a finished completion's size per choice (an answer the budget cut short says nothing about its size: not recorded). */
  record(customer: string, model: string, tokensPerChoice: number): void {
    if (!Number.isFinite(tokensPerChoice) || tokensPerChoice < 0) return;
    this.#touch(customer, model, true)!.push(Math.min(0xffffffff, Math.round(tokensPerChoice)));
  }

  get size(): number {
    return this.#recency.size;
  }

  /** The pairs remembered, most recently used first (for tests). */
  pairs(): [customer: string, model: string][] {
    const out: [string, string][] = [];
    for (let r = this.#recency.first; r; r = r.next) out.push([r.customer, r.model]);
    return out.reverse();
  }

  /** The pair's ring, now the most recently used (`create`: made if missing, dropping the least recently used past maxKeys). */
  #touch(customer: string, model: string, create: boolean): Ring | undefined {
    let models = this.#rings.get(customer);
    let ring = models?.get(model);
    if (ring) {
      if (ring.next) {
        this.#recency.remove(ring);
        this.#recency.push(ring);
      }
      return ring;
    }
    if (!create) return undefined;
    if (!models) this.#rings.set(customer, (models = new Map()));
    models.set(model, (ring = new Ring(customer, model)));
    this.#recency.push(ring);
    if (this.#recency.size > this.opts.maxKeys) this.#drop(this.#recency.first!);
    return ring;
  }

  #drop(r: Ring): void {
    this.#recency.remove(r);
    const models = this.#rings.get(r.customer)!;
    models.delete(r.model);
    if (!models.size) this.#rings.delete(r.customer);
  }
}
