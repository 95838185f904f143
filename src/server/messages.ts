import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ClusterStats, MetricsSnapshot } from '../proxy/shard-metrics.js';
import type { TargetHealthView, TargetSnapshot } from '../routing/target-health.js';
import type { ReloadOutcome, RoutingConfig } from './routing-control.js';
import type { ShortfallVerdict } from '../cluster/lease-policy.js';
import type { ClusterCounters } from '../cluster/cluster-stats.js';
import type { DriftReport } from '../store/budget-drift.js';

// Messages between the supervisor (main thread) and shard workers. Every
// request carrying an `id` is answered by the message of the same id and is
// sent through ThreadRpc (thread-rpc.ts): timeouts, late replies dropped,
// pending requests rejected when the shard drains.

/** A dynamic scope's entry in the shared generation table (slot-registry.ts): stale once the generation moves. */
export interface ScopeHandle { index: number; gen: number }

export type ShardToMain =
  | { t: 'ready'; shard: number; port: number }
  | { t: 'listen-failed'; shard: number; message: string }
  | { t: 'resolve'; id: number; customer: string; agent: string | null }
  | { t: 'collect'; id: number; format?: 'prometheus' } // prometheus: the reply carries /metrics text
  | { t: 'snapshot'; id: number; data: MetricsSnapshot }
  | { t: 'drained'; shard: number; unwritten?: number; final?: MetricsSnapshot } // unwritten: usage rows its ledger could not commit (logged as JSON); final: its last metrics (for the OTLP export's last push)
  | { t: 'policy-event'; kind: 'budget_refused' | 'loop_detected' | 'invalid_usage'; slot?: number; customer: string; agent: string | null; detail: string }
  // Routing (routing-control.ts): health gathering for /admin/providers, config reload.
  | { t: 'routing-health-collect'; id: number }
  | { t: 'routing-health'; id: number; shard: number; targets: TargetSnapshot[] }
  | { t: 'reload-request'; id: number }
  // Cluster (src/cluster/): a call found this node's lease short; /admin/cluster.
  | { t: 'shortfall'; id: number; needs: { slot: number; amount: bigint }[] }
  | { t: 'cluster-stats'; id: number }
  // GET /admin/budgets/drift, POST …/repair: counters against the ledger (src/store/budget-drift.ts).
  | { t: 'budget-drift'; id: number; repair: boolean; all: boolean };

export type MainToShard =
  | { t: 'routing-health-request'; id: number }
  | { t: 'routing-health-collected'; id: number; targets: TargetHealthView[] }
  | { t: 'routing-reload'; routing: RoutingConfig }
  | { t: 'reload-result'; id: number; outcome: ReloadOutcome }
  | { t: 'resolved'; id: number; scope?: ResolvedScope; handle?: ScopeHandle; error?: string; code?: string }
  | { t: 'snapshot-request'; id: number; detail?: boolean }
  | { t: 'collected'; id: number; stats: ClusterStats; text?: string }
  | { t: 'drain' }
  | { t: 'shortfall-answer'; id: number; verdict: ShortfallVerdict }
  | { t: 'cluster-stats-answer'; id: number; counters: ClusterCounters | null }
  | { t: 'budget-drift-report'; id: number; report?: DriftReport; error?: string };

// The usage-row stream between shards and the process's ledger writer thread
// (src/server/ledger-writer-thread.ts), over one MessagePort per shard. Not
// request/reply: batches are numbered per shard and one acknowledgement
// covers every batch up to its number (group commit), so no per-batch
// timer or waiter is needed beyond the shard's commit deadline (row-batcher.ts).

/** Shard → writer: one batch of binary rows (row-codec.ts); `buf` is transferred. */
export interface LedgerRowsMessage { t: 'ledger-rows'; seq: number; rows: number; buf: ArrayBuffer; bytes: number }
/** Writer → shard: every batch up to `seq` is durable in the journal. */
export interface LedgerDurableMessage { t: 'ledger-durable'; seq: number }

export type MainToWriter =
  | { t: 'writer-connect'; port: import('node:worker_threads').MessagePort }
  | { t: 'writer-close'; id: number };

export type WriterToMain =
  | { t: 'writer-ready'; replayed: number }
  | { t: 'writer-log'; level: 'error' | 'warn' | 'info'; msg: string; fields?: Record<string, unknown> }
  | { t: 'writer-closed'; id: number; unwritten: number };
