import type { Exchange } from '../http/exchange.js';
import type { ShardContext } from '../proxy/shard-context.js';
import type { UsageQuery } from '../store/ledger.js';
import { ClusterLedgerError } from '../store/pg/pg-ledger.js';
import type { UsageRecord } from '../store/usage-record.js';

// Where the admin API's usage listings read rows: with `ledger.postgres`
// the cluster ledger (every node's rows), else this node's LMDB ledger. Both
// give rows in the same order, (ts, request_id), with the same cursors.

export function usageRows(ctx: ShardContext, q: UsageQuery): Iterable<UsageRecord> | AsyncIterable<UsageRecord> {
  return ctx.clusterLedger ? ctx.clusterLedger.rows(q) : ctx.ledger.rows(q);
}

/** Answers a read that failed: 503 cluster_ledger_unavailable when the cluster ledger could not be read (never this node's rows alone instead). */
export function failRead(ex: Exchange, ctx: ShardContext, err: unknown): void {
  if (err instanceof ClusterLedgerError) {
    ctx.log('warn', 'cluster ledger read failed', { error: err.message });
    ex.fail('openai', 'cluster_ledger_unavailable', `the cluster ledger (PostgreSQL) cannot be read right now: ${err.message}`, undefined, { 'retry-after': '5' });
    return;
  }
  ctx.log('error', 'usage read failed', { error: String((err as Error)?.stack ?? err).slice(0, 2000) });
  ex.fail('openai', 'internal_error', 'reading usage failed; see the server log');
}
