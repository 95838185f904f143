import type { Config } from '../config/schema.js';
import { counterAmount, limitToCounter, unitKind, type CallAmounts, type UnitKind } from './budget-ref.js';
import { sessionKey, type SessionKey } from './session-key.js';
import type { SessionTable, SessionTiming } from './session-table.js';
import { configCatalog, type Catalog } from '../control/catalog.js';

// Session budgets (`sessionBudgets` on a plan or customer): each session of
// the customer may spend up to the limit over its lifetime, which ends
// `sessionTtl` after its last call. Reserved in the same admission as the
// other budgets (admission.ts): all or nothing. Pure: the table and `now`
// come in as parameters.

export interface SessionBudgetRef {
  /** Column of the session table's entry this budget counts in. */
  index: number;
  kind: UnitKind;
  unit: string;
  rate: number;      // units of `unit` per USD (money only)
  limit: number;     // in `unit`
  cap: bigint;       // counter units (nano-units for money)
  source: 'plan' | 'customer';
}

/** The call's session, as admission needs it. */
export interface SessionCall {
  id: string;
  key: SessionKey;
}

/** The session a caller's call is in, or undefined when it names none. */
export function sessionCall(customer: string, session: string | null): SessionCall | undefined {
  return session === null ? undefined : { id: session, key: sessionKey(customer, session) };
}

export interface SessionHold {
  readonly table: SessionTable;
  readonly entry: number;
  readonly key: bigint;
  readonly session: string;
  readonly refs: readonly SessionBudgetRef[];
  readonly amounts: readonly bigint[];
}

export type SessionVerdict =
  | { ok: true; hold: SessionHold | undefined }
  | { ok: false; why: 'session_budget_exceeded'; ref: SessionBudgetRef; entry: number; session: string; needed: bigint; used: bigint; remaining: bigint; expiresAt: number }
  | { ok: false; why: 'session_limit_exceeded'; capacity: number };

/** The plan's session budgets, then the customer's: every one applies. */
export function sessionBudgetRefs(config: Config, customerId: string, catalog: Catalog = configCatalog(config)): SessionBudgetRef[] {
  const customer = catalog.customer(customerId);
  const planName = customer ? customer.plan : catalog.defaultPlan;
  const plan = planName ? catalog.plan(planName) : undefined;
  const out: SessionBudgetRef[] = [];
  const add = (b: { limit: number; unit: string }, source: 'plan' | 'customer') => {
    const kind = unitKind(b.unit);
    const { cap } = limitToCounter({ kind, limit: b.limit, burst: 0, thresholds: [] });
    out.push({ index: out.length, kind, unit: b.unit, rate: kind !== 'money' || b.unit === 'USD' ? 1 : config.exchangeRates[b.unit]!, limit: b.limit, cap, source });
  };
  for (const b of plan?.sessionBudgets ?? []) add(b, 'plan');
  for (const b of customer?.sessionBudgets ?? []) add(b, 'customer');
  return out;
}

/** Columns the session table needs: the most session budgets any one customer has. */
export function sessionColumns(config: Config): number {
  const plan = (name: string | undefined) => (name ? config.plans.find((p) => p.name === name)?.sessionBudgets.length ?? 0 : 0);
  let n = plan(config.defaultPlan);
  for (const p of config.plans) n = Math.max(n, p.sessionBudgets.length);
  for (const c of config.customers) n = Math.max(n, c.sessionBudgets.length + plan(c.plan));
  return n;
}

const amountOf = (ref: SessionBudgetRef, a: CallAmounts, roundUp = false) => counterAmount(ref, a, roundUp);

/** Reserves the estimate on every session budget, or on none. No session budget: no entry is taken. */
export function reserveSession(table: SessionTable, refs: readonly SessionBudgetRef[], call: SessionCall, estimate: CallAmounts, now: number, t: SessionTiming, shard: number): SessionVerdict {
  if (!refs.length) return { ok: true, hold: undefined };
  const entry = refs.length > table.budgets ? -1 : table.acquire(call.key, now, t, shard);
  if (entry < 0) return { ok: false, why: 'session_limit_exceeded', capacity: table.capacity };
  const amounts: bigint[] = [];
  for (const ref of refs) {
    const amount = amountOf(ref, estimate, true);
    if (!table.tryReserve(entry, ref.index, amount, ref.cap)) {
      for (let i = 0; i < amounts.length; i++) table.release(entry, refs[i]!.index, amounts[i]!);
      const c = table.read(entry, ref.index);
      table.unpin(entry, now);
      return {
        ok: false, why: 'session_budget_exceeded', ref, entry, session: call.id, needed: amount,
        used: c.spent, remaining: ref.cap > c.committed ? ref.cap - c.committed : 0n, expiresAt: now + t.ttlMs,
      };
    }
    amounts.push(amount);
  }
  return { ok: true, hold: { table, entry, key: call.key.key, session: call.id, refs, amounts } };
}

/**
 * Replaces the hold with the actual amounts and ends the call's pin. After
 * the hold expired (`expired`), the pin is gone too: the actual amount is
 * charged only if the entry still belongs to the session.
 */
export function settleSessionHold(h: SessionHold, actual: CallAmounts, expired: boolean, now: number): void {
  if (expired && !h.table.pin(h.entry, h.key, now)) return;
  h.refs.forEach((ref, i) => h.table.settle(h.entry, ref.index, expired ? 0n : h.amounts[i]!, amountOf(ref, actual)));
  h.table.unpin(h.entry, now);
}

export function releaseSessionHold(h: SessionHold, now: number): void {
  h.refs.forEach((ref, i) => h.table.release(h.entry, ref.index, h.amounts[i]!));
  h.table.unpin(h.entry, now);
}

/** An event reported without a reservation (monitoring mode): it happened, so it counts, whatever the room. */
export function chargeSession(table: SessionTable, refs: readonly SessionBudgetRef[], call: SessionCall, actual: CallAmounts, now: number, t: SessionTiming, shard: number): boolean {
  if (!refs.length || refs.length > table.budgets) return false;
  const entry = table.acquire(call.key, now, t, shard);
  if (entry < 0) return false;
  for (const ref of refs) table.settle(entry, ref.index, 0n, amountOf(ref, actual));
  table.unpin(entry, now);
  return true;
}
