import { createHash } from 'node:crypto';
import type { BudgetRef } from '../budget/budget-ref.js';

// Redis key names: readable (`tollgate:budget:acme||customer|0|USD|month|month:2026-11`)
// and unambiguous: parts are joined with '|', and a '|' or '%' inside a part
// (customer ids may contain almost anything) is %-escaped.

const escape = (part: string) => part.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C'));
const join = (parts: string[]) => parts.map(escape).join('|');

/** The lease hash of one budget in one period (see lease-script.ts). */
export function budgetKey(prefix: string, ref: Pick<BudgetRef, 'key'>, periodKey: string): string {
  return `${prefix}budget:${join([...ref.key.split('\u0000'), periodKey])}`;
}

/** Usage counters of one scope (ledger aggregate key) in one period, one field per node and counter. */
export function usageKey(prefix: string, scopeKey: string, periodKey: string): string {
  return `${prefix}usage:${join([...scopeKey.split('\u0000'), periodKey])}`;
}

/** A wallet's idempotency keys → their transactions (credit-script.ts). */
export function walletCreditsKey(prefix: string, ref: Pick<BudgetRef, 'key'>): string {
  return `${prefix}wallet-credits:${join(ref.key.split('\u0000'))}`;
}

/** The grant hash of one velocity window (a rate key: scope + metric + window; see window-script.ts). */
export function windowKey(prefix: string, rateKey: string): string {
  return `${prefix}window:${join(rateKey.split('\u0000'))}`;
}

/** Who runs or ran a call with an idempotency key (idempotency-script.ts); the key is hashed, never stored. */
export function idempotencyKey(prefix: string, customer: string, key: string): string {
  return `${prefix}idem:${createHash('sha256').update(`${customer.length}:${customer}`).update(key).digest('hex').slice(0, 32)}`;
}
