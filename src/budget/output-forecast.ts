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

class Ring {
  readonly values = new Uint32Array(RING_SIZE);
  count = 0;
  next = 0;

  push(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % RING_SIZE;
    if (this.count < RING_SIZE) this.count++;
  }

  percentile(p: number): number {
    const sorted = this.values.slice(0, this.count).sort();
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
    return sorted[rank]!;
  }
}

export class OutputForecast {
  readonly #rings = new Map<string, Ring>();

  constructor(private readonly opts: ForecastOptions) {}

  /** Output tokens to hold per choice; `modelMax` is the model's output ceiling. */
  hold(customer: string, model: string, modelMax: number): number {
    const o = this.opts;
    const ring = this.#touch(key(customer, model), false);
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
    this.#touch(key(customer, model), true)!.push(Math.min(0xffffffff, Math.round(tokensPerChoice)));
  }

  get size(): number {
    return this.#rings.size;
  }

  #touch(k: string, create: boolean): Ring | undefined {
    let ring = this.#rings.get(k);
    if (ring) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.#rings.delete(k);
      this.#rings.set(k, ring);
      return ring;
    }
    if (!create) return undefined;
    ring = new Ring();
    this.#rings.set(k, ring);
    if (this.#rings.size > this.opts.maxKeys) this.#rings.delete(this.#rings.keys().next().value!);
    return ring;
  }
}

const key = (customer: string, model: string) => `${customer}\u0000${model}`;
