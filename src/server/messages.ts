import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ClusterStats, MetricsSnapshot } from '../proxy/shard-metrics.js';
import type { TargetHealthView, TargetSnapshot } from '../routing/target-health.js';
import type { ReloadOutcome, RoutingConfig } from './routing-control.js';
import type { ShortfallVerdict } from '../cluster/lease-policy.js';
import type { ClusterCounters } from '../cluster/cluster-stats.js';
import type { RateShort, RateShortfallVerdict } from '../policy/velocity.js';
import type { ClusterClaim } from '../cluster/idempotency-script.js';
import type { DriftReport } from '../store/budget-drift.js';
import type { CreditRequest } from '../wallet/credit-request.js';
import type { CreditOutcome, WalletFailure, WalletView } from '../wallet/wallet-book.js';
import type { WalletOwner } from '../store/wallet-transactions.js';
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
  | { t: 'resolve'; id: number; customer: string; agent: string | null; /** an issued key with its own budgets, rateLimit or wallet (its scope adds them) */ key?: string }
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
  // Cluster (src/cluster/window-leases.ts): a call found this node's grant of a velocity window short.
  | { t: 'window-shortfall'; id: number; short: RateShort }
  // Cluster (src/cluster/idempotency-leases.ts): a call with an idempotency key claims it for the cluster; its end says whether it charged ('' : no).
  | { t: 'idem-claim'; id: number; customer: string; key: string; requestId: string }
  | { t: 'idem-finish'; customer: string; key: string; requestId: string; chargedRequestId: string }
  // Cluster (src/cluster/lockouts.ts): a failed admin/metrics token attempt, counted across nodes.
  | { t: 'auth-failure'; address: string }
  // Cluster (src/cluster/loop-counts.ts): a body repeated on this node, counted for every node; answered with the cluster's count.
  | { t: 'loop-hit'; id: number; fingerprint: string; windowMs: number; epoch: number; add: number }
  // GET /admin/budgets/drift, POST …/repair: counters against the ledger (src/store/budget-drift.ts).
  | { t: 'budget-drift'; id: number; repair: boolean; all: boolean }
  // Prepaid wallets (src/wallet/): a top-up (admin API or signed), a wallet's balance and transactions.
  | { t: 'wallet-credit'; id: number; request: CreditRequest; actor: string }
  | { t: 'wallet-view'; id: number; owner: WalletOwner }
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
  | { t: 'window-shortfall-answer'; id: number; verdict: RateShortfallVerdict }
  | { t: 'idem-claim-answer'; id: number; claim: ClusterClaim }
  | { t: 'loop-hit-answer'; id: number; count: number }
  | { t: 'budget-drift-report'; id: number; report?: DriftReport; error?: string }
  | { t: 'wallet-answer'; id: number; outcome?: CreditOutcome | WalletView | WalletFailure; error?: string }
  | { t: 'control-answer'; id: number; answer: ControlAnswer }
  | { t: 'control-apply'; id: number; change: ControlChange };

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
