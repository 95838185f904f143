import type { BudgetRef } from '../budget/budget-ref.js';
import type { UsageRecord } from './usage-record.js';
import { neverResets, periodKey, type PeriodKind, type PeriodWindow } from '../budget/periods.js';

// Running totals per scope and period, updated in the same transaction as the
// usage rows they summarise, so budget state rebuilt from them after a crash
// equals the ledger.

export interface Aggregate {
  cost_nano: number;
  billed_nano: number;
  tokens: number;
  calls: number;     // allowed calls: what `requests` budgets count
  blocked: number;
}

export const emptyAggregate = (): Aggregate => ({ cost_nano: 0, billed_nano: 0, tokens: 0, calls: 0, blocked: 0 });

/** Adds one usage row: an allowed call's cost, price, tokens and count; a refused one as blocked. */
export function addRow(agg: Aggregate, row: Pick<UsageRecord, 'decision' | 'cost_nano' | 'billed_nano' | 'prompt_tokens' | 'completion_tokens'>): void {
  if (row.decision === 'allowed') {
    agg.cost_nano += row.cost_nano;
    agg.billed_nano += row.billed_nano;
    agg.tokens += row.prompt_tokens + row.completion_tokens;
    agg.calls += 1;
  } else {
    agg.blocked += 1;
  }
}

export function customerScopeKey(customer: string): string {
  return `c:${customer}`;
}

/** An issued key's own scope (its `budgets`): rows name the key in `key_id`. */
export function keyScopeKey(keyId: string): string {
  return `k:${keyId}`;
}

export function agentScopeKey(customer: string, agent: string): string {
  return `a:${customer}\u0000${agent}`;
}

/**
 * The aggregate key of a period in `timeZone`. The ledger's global zone keeps
 * the bare key (`month:2026-11`, as ledgers always did); another zone's
 * periods are prefixed with the zone (`Asia/Kolkata|month:2026-11`), since
 * its months start at other instants. `total` is the same in every zone.
 */
export function aggregatePeriodKey(kind: PeriodKind, w: PeriodWindow, timeZone: string, globalZone: string): string {
  const key = periodKey(kind, w, timeZone);
  return neverResets(kind) || timeZone === globalZone ? key : `${timeZone}|${key}`;
}

/** A budget's counter value from a ledger aggregate (this node's calls only). */
export function spentIn(ref: Pick<BudgetRef, 'kind' | 'rate'>, agg: Aggregate): bigint {
  if (ref.kind === 'tokens') return BigInt(agg.tokens);
  if (ref.kind === 'requests') return BigInt(agg.calls);
  return BigInt(Math.round(agg.billed_nano * ref.rate));
}
