import type { Caller } from '../identity/key-directory.js';
import type { RefusalScope } from './refusal.js';

// The words of answers the proxy gives itself.

const PERIOD: Record<string, string> = { day: 'today', week: 'this week', month: 'this month', total: 'in total', session: 'in this session' };

export function friendlyRefusal(s: RefusalScope, customer: string, topUpUrl: string | undefined): string {
  const amount = (n: number) => (s.unit === 'tokens' || s.unit === 'requests' ? `${n} ${s.unit}` : `${n.toFixed(2)} ${s.unit}`);
  if (s.period === 'prepaid') {
    let text = `Your prepaid AI credit has run out: ${amount(s.remaining)} left of ${amount(s.limit)} credited.`;
    if (topUpUrl) text += ` You can top up here: ${topUpUrl.replaceAll('{customer}', encodeURIComponent(customer))}`;
    return text;
  }
  let text = `Your AI budget is used up: ${amount(s.used)} of ${amount(s.limit)} ${PERIOD[s.period] ?? ''}.`;
  if (s.resets_at) text += ` It resets on ${s.resets_at.slice(0, 10)}.`;
  if (topUpUrl) text += ` You can top up here: ${topUpUrl.replaceAll('{customer}', encodeURIComponent(customer))}`;
  return text;
}

interface BudgetLine { unit: string; period: string; source: string; limit: number; used: number; reserved: number; remaining: number; resets_at: string | null; enforce?: boolean }

export function balanceText(caller: Caller, budgets: BudgetLine[]): string {
  const who = caller.agent ? `${caller.customer} / ${caller.agent}` : caller.customer;
  if (!budgets.length) return `Balance for ${who}: no budget limits apply.`;
  const fmt = (unit: string, n: number) => (unit === 'tokens' || unit === 'requests' ? `${Math.round(n)} ${unit}` : `${n.toFixed(4)} ${unit}`);
  const lines = budgets.map((b) =>
    b.period === 'prepaid' ? `- prepaid wallet: ${fmt(b.unit, b.remaining)} left of ${fmt(b.unit, b.limit)} credited` : `- ${b.source} ${b.period === 'total' ? 'total' : `${b.period}ly`.replace('dayly', 'daily')} budget: used ${fmt(b.unit, b.used)} of ${fmt(b.unit, b.limit)}, ${fmt(b.unit, b.remaining)} remaining${b.resets_at ? ` (resets ${b.resets_at})` : ''}${b.enforce === false ? ' [watched, not enforced]' : ''}`);
  return `Balance for ${who}:\n${lines.join('\n')}`;
}
