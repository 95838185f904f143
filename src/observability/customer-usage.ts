import { OTHER } from './bounded-labels.js';

// Spend and tokens per customer, for /metrics. Each shard keeps a bounded
// map (customers past `capacity` are added to OTHER); the supervisor merges
// the shards' maps and publishes series only for the customers it is told
// to (`include`) plus the top N by spend, with everyone else summed into
// one OTHER series — label cardinality stays at N + |include| + 1 whatever
// the number of customers. Totals over every customer stay exact.

export interface CustomerUsage {
  costNano: number;
  promptTokens: number;
  completionTokens: number;
  calls: number;
}

export type CustomerUsageEntry = [customer: string, usage: CustomerUsage];

const empty = (): CustomerUsage => ({ costNano: 0, promptTokens: 0, completionTokens: 0, calls: 0 });

function add(into: CustomerUsage, u: CustomerUsage): void {
  into.costNano += u.costNano;
  into.promptTokens += u.promptTokens;
  into.completionTokens += u.completionTokens;
  into.calls += u.calls;
}

export class CustomerUsageTracker {
  readonly #by = new Map<string, CustomerUsage>();

  constructor(readonly capacity = 5000) {}

  record(customer: string, costNano: number, promptTokens: number, completionTokens: number): void {
    let u = this.#by.get(customer);
    if (!u) {
      const key = this.#by.size >= this.capacity ? OTHER : customer;
      u = this.#by.get(key);
      if (!u) this.#by.set(key, (u = empty()));
    }
    u.costNano += costNano;
    u.promptTokens += promptTokens;
    u.completionTokens += completionTokens;
    u.calls += 1;
  }

  entries(): CustomerUsageEntry[] {
    return [...this.#by].map(([k, v]) => [k, { ...v }]);
  }
}

export interface CustomerSeries {
  /** Customers with their own series (top N and included), by id. */
  named: Map<string, CustomerUsage>;
  /** Everyone else, summed. */
  other: CustomerUsage;
  /** Every customer. */
  total: CustomerUsage;
}

export function customerSeries(perShard: CustomerUsageEntry[][], top: number, include: readonly string[]): CustomerSeries {
  const merged = new Map<string, CustomerUsage>();
  const total = empty();
  for (const entries of perShard) {
    for (const [id, u] of entries) {
      let m = merged.get(id);
      if (!m) merged.set(id, (m = empty()));
      add(m, u);
      add(total, u);
    }
  }
  const named = new Map<string, CustomerUsage>();
  for (const id of include) {
    if (id !== OTHER) named.set(id, merged.get(id) ?? empty());
  }
  const ranked = [...merged].filter(([id]) => id !== OTHER && !named.has(id)).sort((a, b) => b[1].costNano - a[1].costNano || b[1].calls - a[1].calls);
  for (const [id, u] of ranked.slice(0, top)) named.set(id, u);
  const other = empty();
  for (const [id, u] of merged) if (!named.has(id)) add(other, u);
  return { named, other, total };
}
