import { counterAmount, type BudgetRef, type CallAmounts } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ClusterCounters } from './cluster-stats.js';
import type { ShortfallVerdict } from './lease-policy.js';
import type { ThreadRpc } from '../server/thread-rpc.js';
import type { RateShort, RateShortfallVerdict } from '../policy/velocity.js';
import type { ClusterClaim } from './idempotency-script.js';

/**
 * Shard side of cluster mode. When a decision finds this node's lease short,
 * `shortfall` asks the supervisor to top up every budget of the call that is
 * short (one message, one Redis round trip for all of them) and says whether
 * deciding again can succeed. It is the only path on which a call waits on
 * Redis; calls within the lease never get here.
 */
export class ClusterClient {
  /** `waitMs`: a shortfall the supervisor has not answered by then is treated as Redis unreachable. */
  constructor(private readonly rpc: ThreadRpc<ShardToMain>, private readonly table: BudgetTable, private readonly waitMs: number) {}

  shortfall(refs: readonly BudgetRef[], estimate: CallAmounts): Promise<ShortfallVerdict> {
    const needs: { slot: number; amount: bigint }[] = [];
    for (const ref of refs) {
      const amount = counterAmount(ref, estimate, true);
      if (this.table.cap(ref.slot) - this.table.committed(ref.slot) < amount) needs.push({ slot: ref.slot, amount });
    }
    if (!needs.length) return Promise.resolve('retry'); // room came back while the call was refused
    // No answer (timeout, or the shard is draining) reads as Redis unreachable: the redisDown policy decides.
    return this.rpc.request<ShortfallVerdict>((id) => ({ t: 'shortfall', id, needs }), { timeoutMs: this.waitMs, what: 'the supervisor (lease shortfall)' })
      .catch((): ShortfallVerdict => 'unavailable');
  }

  /** A velocity window's grant was short (window-leases.ts); no answer reads as Redis unreachable. */
  rateShortfall(short: RateShort, open: boolean): Promise<RateShortfallVerdict> {
    return this.rpc.request<RateShortfallVerdict>((id) => ({ t: 'window-shortfall', id, short }), { timeoutMs: this.waitMs, what: 'the supervisor (window shortfall)' })
      .catch((): RateShortfallVerdict => ({ v: 'unavailable', open }));
  }

  /** Claims an idempotency key for the cluster (idempotency-leases.ts); no answer reads as Redis unreachable. */
  claimIdempotency(customer: string, key: string, requestId: string): Promise<ClusterClaim> {
    return this.rpc.request<ClusterClaim>((id) => ({ t: 'idem-claim', id, customer, key, requestId }), { timeoutMs: this.waitMs, what: 'the supervisor (idempotency claim)' })
      .catch((): ClusterClaim => ({ outcome: 'unavailable' }));
  }

  /** The call with a cluster claim ended: `chargedRequestId` is its charged row's request id, or ''. */
  finishIdempotency(customer: string, key: string, requestId: string, chargedRequestId: string): void {
    this.rpc.post({ t: 'idem-finish', customer, key, requestId, chargedRequestId });
  }

  /** A repeated body (loop-check.ts): the cluster's count this window; 0 when Redis is unreachable (the node's own count decides). */
  loopHit(fingerprint: string, windowMs: number, now: number, add: number): Promise<number> {
    const epoch = Math.floor(now / windowMs);
    return this.rpc.request<number>((id) => ({ t: 'loop-hit', id, fingerprint, windowMs, epoch, add }), { timeoutMs: this.waitMs, what: 'the supervisor (loop count)' })
      .catch(() => 0);
  }

  stats(): Promise<ClusterCounters | null> {
    return this.rpc.request((id) => ({ t: 'cluster-stats', id }), { timeoutMs: 10_000, what: 'the supervisor (cluster stats)' });
  }

  /** Delivers the supervisor's answers to the requests above; false for any other message. */
  onMessage(m: MainToShard): boolean {
    switch (m.t) {
      case 'shortfall-answer':
      case 'window-shortfall-answer':
        return this.rpc.reply(m.id, m.verdict), true;
      case 'idem-claim-answer':
        return this.rpc.reply(m.id, m.claim), true;
      case 'loop-hit-answer':
        return this.rpc.reply(m.id, m.count), true;
      case 'cluster-stats-answer':
        return this.rpc.reply(m.id, m.counters), true;
      default:
        return false;
    }
  }
}
