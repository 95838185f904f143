import { counterAmount, type BudgetRef, type CallAmounts } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ClusterCounters } from './cluster-stats.js';
import type { ShortfallVerdict } from './lease-policy.js';

/**
 * Shard side of cluster mode. When a decision finds this node's lease short,
 * `shortfall` asks the supervisor to top up every budget of the call that is
 * short (one message, one Redis round trip for all of them) and says whether
 * deciding again can succeed. It is the only path on which a call waits on
 * Redis; calls within the lease never get here.
 */
export class ClusterClient {
  readonly #shortfalls = new Map<number, (v: ShortfallVerdict) => void>();
  readonly #stats = new Map<number, (c: ClusterCounters | null) => void>();
  #nextId = 1;

  /** `waitMs`: a shortfall the supervisor has not answered by then is treated as Redis unreachable. */
  constructor(private readonly send: (m: ShardToMain) => void, private readonly table: BudgetTable, private readonly waitMs: number) {}

  shortfall(refs: readonly BudgetRef[], estimate: CallAmounts): Promise<ShortfallVerdict> {
    const needs: { slot: number; amount: bigint }[] = [];
    for (const ref of refs) {
      const amount = counterAmount(ref, estimate, true);
      if (this.table.cap(ref.slot) - this.table.committed(ref.slot) < amount) needs.push({ slot: ref.slot, amount });
    }
    if (!needs.length) return Promise.resolve('retry'); // room came back while the call was refused
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#shortfalls.delete(id);
        resolve('unavailable');
      }, this.waitMs);
      this.#shortfalls.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.send({ t: 'shortfall', id, needs });
    });
  }

  stats(): Promise<ClusterCounters | null> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#stats.delete(id);
        reject(new Error('the supervisor did not answer'));
      }, 10_000);
      this.#stats.set(id, (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      this.send({ t: 'cluster-stats', id });
    });
  }

  onMessage(m: MainToShard): boolean {
    if (m.t === 'shortfall-answer') {
      this.#shortfalls.get(m.id)?.(m.verdict);
      this.#shortfalls.delete(m.id);
      return true;
    }
    if (m.t === 'cluster-stats-answer') {
      this.#stats.get(m.id)?.(m.counters);
      this.#stats.delete(m.id);
      return true;
    }
    return false;
  }
}
