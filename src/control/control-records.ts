import type { BudgetConfig, CustomerConfig, PlanConfig, WalletConfig } from '../config/schema.js';
import type { AuditEntry } from './audit-log.js';

// What the control plane stores and ships between threads and nodes.

/** A key issued through the admin API. The secret itself is never stored: only its SHA-256. */
export interface KeyRecord {
  key_id: string;
  customer: string;
  /** Hex SHA-256 of the secret (identity/key-hash.ts). */
  hash: string;
  name: string | null;
  created_at: number;
  expires_at: number | null;
  budgets?: BudgetConfig[];
  rateLimit?: CustomerConfig['rateLimit'];
  /** Models (globs) this key may call; absent: every model the customer may call. */
  models?: string[];
  wallet?: WalletConfig;
}

/** One incremental change, applied the same way on the supervisor, every shard and every node. */
export type ControlDelta =
  | { t: 'customer'; customer: CustomerConfig }
  | { t: 'customer-deleted'; id: string }
  | { t: 'plan'; plan: PlanConfig }
  /** Only as the undo of a plan created by a write that failed to commit. */
  | { t: 'plan-deleted'; name: string }
  | { t: 'key'; key: KeyRecord }
  | { t: 'key-revoked'; key_id: string; hash: string; customer: string }
  /**
   * Audited reset of the customer's spend this period. Each node's supervisor
   * moves its own counters to 0 when it applies it and fills `offsets` (what
   * was taken off, per budget) before storing it.
   */
  | { t: 'spend-reset'; customer: string; offsets?: SpendOffset[] };

/** Spend taken off a budget counter by an audited reset, for the period that started at periodStart. */
export interface SpendOffset { key: string; periodStart: number; amount: string }

/** The deltas of one admin write, stamped with the global version it produced, and its audit entries (stored by every node). */
export interface ControlChange { version: number; deltas: ControlDelta[]; audit?: AuditEntry[] }

/** Everything the stored control state holds, as shards and other nodes load it. */
export interface ControlSnapshot {
  version: number;
  customers: CustomerConfig[];
  plans: PlanConfig[];
  keys: KeyRecord[];
  offsets: SpendOffset[];
}

/** Keys carry no secret but their hash: what the admin API shows of one. */
export function publicKey(k: KeyRecord, lastUsed: number | undefined) {
  return {
    key_id: k.key_id,
    customer: k.customer,
    name: k.name,
    created_at: new Date(k.created_at).toISOString(),
    expires_at: k.expires_at === null ? null : new Date(k.expires_at).toISOString(),
    last_used_at: lastUsed === undefined ? null : new Date(lastUsed).toISOString(),
    ...(k.budgets ? { budgets: k.budgets } : {}),
    ...(k.rateLimit ? { rateLimit: k.rateLimit } : {}),
    ...(k.models ? { models: k.models } : {}),
    ...(k.wallet ? { wallet: k.wallet } : {}),
  };
}
