import type { PeriodKind } from './periods.js';

export type UnitKind = 'money' | 'tokens' | 'requests';

/** Where a budget comes from, for refusals and reports. */
export interface BudgetScope {
  customer: string;
  agent: string | null;
  source: 'customer' | 'plan' | 'agent' | 'wallet' | 'key';
  plan?: string;
  /** source `key`: the issued key (control plane) whose own budget this is. */
  key?: string;
}

/**
 * A prepaid wallet's terms (period `prepaid`). Its limit is not in the
 * config: it is what was credited, held in the budget table (and in Redis
 * in cluster mode), so `BudgetRef.limit` is 0 and readers take the limit
 * from the table (displayLimit).
 */
export interface WalletTerms {
  /** {customer} already replaced. */
  topUpUrl?: string;
  /** Balances (in the wallet's currency) whose crossing alerts once. */
  lowBalance: { below: number; notify: string[] }[];
}

export interface ThresholdRef {
  at: number;                 // fraction of the limit
  action: 'warn' | 'degrade' | 'block';
  model?: string;             // degrade target
  notify: string[];           // alert channel names
}

/** One budget that applies to a call, bound to its counter slot. */
export interface BudgetRef {
  slot: number;
  kind: UnitKind;
  unit: string;      // USD, GBP, ..., tokens, requests
  rate: number;      // units of `unit` per USD (money only; 1 for USD)
  period: PeriodKind;
  /** IANA zone of the period's boundaries (customer's, plan's, else global). */
  timeZone: string;
  /** False: a shadow budget, tracked and alerted on but never refusing. */
  enforce: boolean;
  limit: number;     // as configured, in `unit`
  burst: number;
  thresholds: ThresholdRef[];
  /** Stable identity of this counter across restarts and nodes (alerts, Redis). */
  key: string;
  scope: BudgetScope;
  wallet?: WalletTerms;
}

/** What a call costs or may cost, in every dimension a budget can count. */
export interface CallAmounts {
  billedPico: number; // what the customer is charged, pico-USD
  tokens: number;
  requests: number;
}

const NANO = 1e9;

export function unitKind(unit: string): UnitKind {
  return unit === 'tokens' ? 'tokens' : unit === 'requests' ? 'requests' : 'money';
}

/** Counter units: nano-units of the currency for money, whole tokens or requests otherwise. */
export function counterAmount(ref: Pick<BudgetRef, 'kind' | 'rate'>, a: CallAmounts, roundUp = false): bigint {
  if (ref.kind === 'tokens') return BigInt(Math.max(0, Math.ceil(a.tokens)));
  if (ref.kind === 'requests') return BigInt(a.requests);
  const nano = (a.billedPico / 1000) * ref.rate;
  return BigInt(Math.max(0, roundUp ? Math.ceil(nano) : Math.round(nano)));
}

/**
 * Counter limit and hard cap. The cap is limit × (1 + burst) — a soft cap
 * lets calls continue into the burst — unless a `block` threshold sits
 * lower, which then is the hard stop.
 */
export function limitToCounter(ref: Pick<BudgetRef, 'kind' | 'limit' | 'burst' | 'thresholds'>): { limit: bigint; cap: bigint } {
  const scale = ref.kind === 'money' ? NANO : 1;
  let capFraction = 1 + ref.burst;
  for (const t of ref.thresholds) if (t.action === 'block' && t.at < capFraction) capFraction = t.at;
  return {
    limit: BigInt(Math.round(ref.limit * scale)),
    cap: BigInt(Math.round(ref.limit * capFraction * scale)),
  };
}

/** The limit to show (refusals, views, alerts): a wallet's is what was credited, held in the table. */
export function displayLimit(ref: Pick<BudgetRef, 'kind' | 'limit' | 'wallet'>, tableLimit: bigint): number {
  return ref.wallet ? counterToUnit(ref, tableLimit) : ref.limit;
}

/** Counter value back to the budget's unit, for JSON and CSV. */
export function counterToUnit(ref: Pick<BudgetRef, 'kind'>, v: bigint): number {
  return ref.kind === 'money' ? Number(v) / NANO : Number(v);
}
