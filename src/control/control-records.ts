import type { BudgetConfig, CustomerConfig, PlanConfig, WalletConfig } from '../config/schema.js';

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
  /** A period's spend was reset (budget slots of the customer moved to 0); shards re-read the scope. */
  | { t: 'spend-reset'; customer: string; offsets: SpendOffset[] };

/** Spend taken off a budget counter by an audited reset, for the period that started at periodStart. */
export interface SpendOffset { key: string; periodStart: number; amount: string }

/** The deltas of one admin write, stamped with the global version it produced. */
export interface ControlChange { version: number; deltas: ControlDelta[] }

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
