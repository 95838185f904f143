import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ScopeHandle, ShardToMain } from './messages.js';
import type { ThreadRpc } from './thread-rpc.js';

export class ScopeError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

interface Cached { scope: ResolvedScope; handle?: ScopeHandle }

/**
 * Shard-side cache of (customer, agent) → resolved scope (budgets, windows,
 * policy). The first call of a scope asks the supervisor, which owns slot
 * allocation; every later call is a Map hit with no await, keeping the
 * decision in memory.
 *
 * Dynamic scopes (agents, app-key customers) carry a handle: an index into a
 * shared generation table the supervisor bumps before it reclaims the
 * scope's slots. A hit checks the generation in the same synchronous run as
 * the reservation that follows it, so a slot can never be billed through a
 * stale entry after the supervisor started reclaiming it (see
 * slot-registry.ts for the other half).
 */
export class ScopeResolver {
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, Promise<ResolvedScope>>();
  readonly #gens: Int32Array | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(private readonly rpc: ThreadRpc<ShardToMain>, gensSab?: SharedArrayBuffer, private readonly timeoutMs = 10_000) {
    this.#gens = gensSab ? new Int32Array(gensSab) : undefined;
    if (this.#gens) {
      // Entries of reclaimed scopes are dropped in the background, so the cache stays as small as the live scopes.
      this.#pruneTimer = setInterval(() => this.prune(), 5_000);
      this.#pruneTimer.unref();
    }
  }

  /** `keyId`: the call's issued key has its own budgets, rateLimit or wallet (Caller.keyScope); its scope is cached apart. */
  get(customer: string, agent: string | null, keyId: string | null = null): ResolvedScope | Promise<ResolvedScope> {
    // \u0001 cannot occur in an agent id, so a key's entry never collides with an agent's (and invalidate()'s prefix still finds it).
    const key = keyId !== null ? `${customer}\u0000${agent ?? ''}\u0001${keyId}` : agent === null ? customer : `${customer}\u0000${agent}`;
    const hit = this.#cache.get(key);
    if (hit && this.#live(hit)) return hit.scope;
    if (hit) this.#cache.delete(key);
    let p = this.#pending.get(key);
    if (!p) {
      p = this.rpc.request<{ scope?: ResolvedScope; handle?: ScopeHandle; error?: string; code?: string }>(
        (id) => ({ t: 'resolve', id, customer, agent, ...(keyId === null ? {} : { key: keyId }) }),
        { timeoutMs: this.timeoutMs, what: 'scope resolution (the supervisor)' },
      ).then(
        (r) => {
          this.#pending.delete(key);
          if (!r.scope) throw new ScopeError(r.error ?? 'scope resolution failed', r.code ?? 'TG_SCOPE');
          this.#cache.set(key, { scope: r.scope, handle: r.handle });
          return r.scope;
        },
        (err) => {
          this.#pending.delete(key);
          throw err;
        },
      );
      this.#pending.set(key, p);
    }
    return p;
  }

  #live(c: Cached): boolean {
    return !c.handle || !this.#gens || Atomics.load(this.#gens, c.handle.index) === c.handle.gen;
  }

  /** Drops entries whose scope the supervisor reclaimed. */
  prune(): number {
    let n = 0;
    for (const [key, c] of this.#cache) {
      if (!this.#live(c)) {
        this.#cache.delete(key);
        n++;
      }
    }
    return n;
  }

  /**
   * A control-plane change to the customer (or, with no id, to a plan):
   * its cached scopes are dropped, so the next call resolves them again
   * under the new budgets and policy (the same counter slots: spend kept).
   */
  invalidate(customer?: string): void {
    if (customer === undefined) return this.#cache.clear();
    this.#cache.delete(customer);
    const prefix = `${customer}\u0000`;
    for (const key of this.#cache.keys()) if (key.startsWith(prefix)) this.#cache.delete(key);
  }

  get size(): number {
    return this.#cache.size;
  }

  close(): void {
    clearInterval(this.#pruneTimer);
  }
}
