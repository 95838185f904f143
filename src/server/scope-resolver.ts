import type { ResolvedScope } from '../policy/scope-policy.js';
import type { MainToShard, ShardToMain } from './messages.js';

/**
 * Shard-side cache of (customer, agent) → resolved scope (budgets, windows, policy). The first call of a
 * scope asks the supervisor, which owns slot allocation; every later call is
 * a Map hit with no await, keeping the decision in memory.
 */
export class ScopeResolver {
  readonly #cache = new Map<string, ResolvedScope>();
  readonly #pending = new Map<string, Promise<ResolvedScope>>();
  readonly #waiters = new Map<number, { resolve: (r: ResolvedScope) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(private readonly send: (m: ShardToMain) => void) {}

  get(customer: string, agent: string | null): ResolvedScope | Promise<ResolvedScope> {
    const key = agent === null ? customer : `${customer}\u0000${agent}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    let p = this.#pending.get(key);
    if (!p) {
      const id = this.#nextId++;
      p = new Promise<ResolvedScope>((resolve, reject) => this.#waiters.set(id, { resolve, reject })).then(
        (scope) => {
          this.#cache.set(key, scope);
          this.#pending.delete(key);
          return scope;
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
    if (m.scope) w.resolve(m.scope);
    else w.reject(Object.assign(new Error(m.error ?? 'scope resolution failed'), { code: 'TG_SCOPE' }));
    return true;
  }
}
