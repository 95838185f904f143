import type { BudgetRef } from '../budget/budget-ref.js';
import type { ClusterStats, MetricsSnapshot } from '../proxy/shard-metrics.js';

// Messages between the supervisor (main thread) and shard workers.

export type ShardToMain =
  | { t: 'ready'; shard: number; port: number }
  | { t: 'listen-failed'; shard: number; message: string }
  | { t: 'resolve'; id: number; customer: string; agent: string | null }
  | { t: 'collect'; id: number }
  | { t: 'snapshot'; id: number; data: MetricsSnapshot }
  | { t: 'drained'; shard: number };

export type MainToShard =
  | { t: 'resolved'; id: number; refs?: BudgetRef[]; error?: string }
  | { t: 'snapshot-request'; id: number }
  | { t: 'collected'; id: number; stats: ClusterStats }
  | { t: 'drain' };
