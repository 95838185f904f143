// What an alert says. The webhook body is this object (docs/interface.md), plus an
// `id` receivers can use to drop a redelivery.

export interface AlertEvent {
  id: string;
  event: 'threshold_crossed' | 'threshold_resolved' | 'loop_detected' | 'spend_anomaly' | 'invalid_usage' | 'ledger_unavailable' | 'ledger_recovered' | 'low_balance';
  customer: string;
  agent: string | null;
  /** An issued key's own budget or wallet. */
  key_id?: string;
  budget?: { unit: string; period: string; limit: number; used: number };
  threshold?: number;
  action?: string;
  detail?: string;
  /** low_balance: the wallet's settled balance (threshold is the `below` it fell under). */
  balance?: number;
  top_up_url?: string;
  at: string;
}

export function alertText(e: AlertEvent): string {
  const who = e.key_id ? `${e.customer} / key ${e.key_id}` : e.agent ? `${e.customer} / agent ${e.agent}` : e.customer;
  switch (e.event) {
    case 'threshold_crossed':
      return `Tollgate: ${who} reached ${Math.round((e.threshold ?? 0) * 100)}% of its ${e.budget?.period} ${e.budget?.unit} budget (${e.budget?.used} of ${e.budget?.limit}); action: ${e.action}.`;
    case 'threshold_resolved':
      return `Tollgate: ${who} is back under ${Math.round((e.threshold ?? 0) * 100)}% of its ${e.budget?.period} ${e.budget?.unit} budget.`;
    case 'loop_detected':
      return `Tollgate: possible runaway loop for ${who}: ${e.detail}.`;
    case 'spend_anomaly':
      return `Tollgate: spend spike for ${who}: ${e.detail}.`;
    case 'invalid_usage':
      return `Tollgate: impossible provider usage for ${who}: ${e.detail}.`;
    case 'ledger_unavailable':
      return `Tollgate: the usage ledger cannot record calls; every call is refused (503) until it can: ${e.detail}.`;
    case 'low_balance':
      return `Tollgate: the prepaid wallet of ${who} is down to ${e.balance} ${e.budget?.unit}, below ${e.threshold} ${e.budget?.unit}${e.top_up_url ? `; top up: ${e.top_up_url}` : ''}.`;
    case 'ledger_recovered':
      return `Tollgate: the usage ledger records calls again; calls are admitted: ${e.detail}.`;
  }
}
