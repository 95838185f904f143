import type { BudgetRef } from '../budget/budget-ref.js';
import type { MainToShard, ShardToMain } from './messages.js';

/**
 * Shard-side cache of (customer, agent) → budget refs. The first call of a
 * scope asks the supervisor, which owns slot allocation; every later call is
 * a Map hit with no await, keeping the decision in memory.
 */
export class ScopeResolver {
  readonly #cache = new Map<string, BudgetRef[]>();
  readonly #pending = new Map<string, Promise<BudgetRef[]>>();
  readonly #waiters = new Map<number, { resolve: (r: BudgetRef[]) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(private readonly send: (m: ShardToMain) => void) {}

  get(customer: string, agent: string | null): BudgetRef[] | Promise<BudgetRef[]> {
    const key = agent === null ? customer : `${customer}\u0000${agent}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    let p = this.#pending.get(key);
    if (!p) {
      const id = this.#nextId++;
      p = new Promise<BudgetRef[]>((resolve, reject) => this.#waiters.set(id, { resolve, reject })).then(
        (refs) => {
          this.#cache.set(key, refs);
          this.#pending.delete(key);
          return refs;
        },
        (err) => {
          this.#pending.delete(key);
          throw err;
        },
      );
      this.#pending.set(key, p);
      this.send({ t: 'resolve', id, customer, agent });
    }
    return p;
  }

  onMessage(m: MainToShard): boolean {
    if (m.t !== 'resolved') return false;
    const w = this.#waiters.get(m.id);
    if (!w) return true;
    this.#waiters.delete(m.id);
    if (m.refs) w.resolve(m.refs);
    else w.reject(Object.assign(new Error(m.error ?? 'scope resolution failed'), { code: 'TG_SCOPE' }));
    return true;
  }
}
