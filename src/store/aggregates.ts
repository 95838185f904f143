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

export function customerScopeKey(customer: string): string {
  return `c:${customer}`;
}

export function agentScopeKey(customer: string, agent: string): string {
  return `a:${customer}\u0000${agent}`;
}
