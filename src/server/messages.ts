import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ClusterStats, MetricsSnapshot } from '../proxy/shard-metrics.js';
import type { TargetHealthView, TargetSnapshot } from '../routing/target-health.js';
import type { ReloadOutcome, RoutingConfig } from './routing-control.js';
import type { ShortfallVerdict } from '../cluster/lease-policy.js';
import type { ClusterCounters } from '../cluster/cluster-stats.js';
import type { DriftReport } from '../store/budget-drift.js';
import type { CreditRequest } from '../wallet/credit-request.js';
import type { CreditOutcome, WalletFailure, WalletView } from '../wallet/wallet-book.js';
import type { ControlAnswer, ControlOp } from '../control/control-plane.js';
import type { ControlChange } from '../control/control-records.js';

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
  | { t: 'budget-drift'; id: number; repair: boolean; all: boolean }
  // Prepaid wallets (src/wallet/): a top-up (admin API or signed), a wallet's balance and transactions.
  | { t: 'wallet-credit'; id: number; request: CreditRequest; actor: string }
  | { t: 'wallet-view'; id: number; customer: string }
  // Control plane (src/control/): an admin write for the supervisor; a change applied; keys used lately (last_used_at).
  | { t: 'control'; id: number; actor: string; op: ControlOp }
  | { t: 'control-applied'; id: number }
  | { t: 'keys-used'; used: [string, number][] };

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
  | { t: 'budget-drift-report'; id: number; report?: DriftReport; error?: string }
  | { t: 'wallet-answer'; id: number; outcome?: CreditOutcome | WalletView | WalletFailure; error?: string }
  | { t: 'control-answer'; id: number; answer: ControlAnswer }
  | { t: 'control-apply'; id: number; change: ControlChange };
