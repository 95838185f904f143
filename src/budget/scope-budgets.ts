import type { BudgetConfig, Config, WalletConfig } from '../config/schema.js';
import { unitKind, type BudgetRef } from './budget-ref.js';
import { configCatalog, type Catalog } from '../control/catalog.js';
import type { KeyRecord } from '../control/control-records.js';

// Which budgets apply to a (customer, agent) scope: the plan's, the
// customer's own, and the agent's (its own entry, else the customer's
// agentDefaults, else the plan's), and — for a call made with an issued key
// that carries budgets — the key's own. All apply; the tightest refuses first.

export interface ScopeBudget {
  key: string; // stable identity of the counter: scope + source + index
  ref: Omit<BudgetRef, 'slot'>;
}

export function scopeBudgets(config: Config, customerId: string, agent: string | null, catalog: Catalog = configCatalog(config), key?: KeyRecord): ScopeBudget[] {
  const customer = catalog.customer(customerId);
  const planName = customer ? customer.plan : catalog.defaultPlan;
  const plan = planName ? catalog.plan(planName) : undefined;
  const timeZone = customer?.timeZone ?? plan?.timeZone ?? globalTimeZone(config);
  const out: ScopeBudget[] = [];
  const add = (b: BudgetConfig, source: 'customer' | 'plan' | 'agent' | 'key', i: number) => {
    const scopeAgent = source === 'agent' ? agent : null;
    // A key's counters are its own whatever agent calls with it: `key` + key id in place of the source.
    const from = source === 'key' ? `key:${key!.key_id}` : source;
    const counter = `${customerId}\u0000${scopeAgent ?? ''}\u0000${from}\u0000${i}\u0000${b.unit}\u0000${b.period}`;
    out.push({
      key: counter,
      ref: {
        key: counter,
        thresholds: b.thresholds.map((t) => ({ at: t.at, action: t.action, model: t.model, notify: [...t.notify] })),
        kind: unitKind(b.unit),
        unit: b.unit,
        rate: b.unit === 'USD' || unitKind(b.unit) !== 'money' ? 1 : config.exchangeRates[b.unit]!,
        period: b.period,
        timeZone,
        enforce: b.enforce,
        limit: b.limit,
        burst: b.burst,
        scope: { customer: customerId, agent: scopeAgent, source, plan: planName, ...(source === 'key' ? { key: key!.key_id } : {}) },
      },
    });
  };
  const wallet = customer?.wallet ?? plan?.wallet;
  const refusalUrl = customer?.refusal?.topUpUrl ?? plan?.refusal?.topUpUrl;
  if (wallet) out.push(walletBudget(config, customerId, planName, timeZone, wallet, refusalUrl));
  // A key's own wallet is one more pool the call must fit in (on top of the customer's wallet, if any).
  if (key?.wallet) out.push(walletBudget(config, customerId, planName, timeZone, key.wallet, refusalUrl, key.key_id));
  plan?.budgets.forEach((b, i) => add(b, 'plan', i));
  customer?.budgets.forEach((b, i) => add(b, 'customer', i));
  if (agent) {
    const own = customer?.agents.find((a) => a.id === agent);
    const budgets = own?.budgets ?? customer?.agentDefaults?.budgets ?? plan?.agentDefaults?.budgets ?? [];
    budgets.forEach((b, i) => add(b, 'agent', i));
  }
  key?.budgets?.forEach((b, i) => add(b, 'key', i));
  return out;
}

/**
 * A prepaid wallet as a budget of period `prepaid`: one counter per customer
 * (every agent's calls draw on it), or per issued key (`keyId`: only that
 * key's calls), limit = what was credited (seeded by the slot registry from
 * the wallet's transactions, raised by top-ups), spent = every charge the
 * ledger holds for the customer, or for the key (its `total` aggregate).
 */
function walletBudget(config: Config, customerId: string, planName: string | undefined, timeZone: string, w: WalletConfig, refusalUrl: string | undefined, keyId?: string): ScopeBudget {
  const key = walletKey(customerId, w.currency, keyId);
  const url = w.topUpUrl ?? refusalUrl;
  return {
    key,
    ref: {
      key,
      thresholds: [],
      kind: 'money',
      unit: w.currency,
      rate: w.currency === 'USD' ? 1 : config.exchangeRates[w.currency]!,
      period: 'prepaid',
      timeZone,
      enforce: true,
      limit: 0,
      burst: 0,
      scope: { customer: customerId, agent: null, source: 'wallet', plan: planName, ...(keyId !== undefined ? { key: keyId } : {}) },
      wallet: {
        ...(url ? { topUpUrl: url.replaceAll('{customer}', encodeURIComponent(customerId)).replaceAll('{key_id}', encodeURIComponent(keyId ?? '')) } : {}),
        lowBalance: w.lowBalance.map((t) => ({ below: t.below, notify: [...t.notify] })),
      },
    },
  };
}

/** The wallet's counter identity: the same on every node (Redis key) and across restarts. `keyId`: an issued key's own wallet. */
export function walletKey(customerId: string, currency: string, keyId?: string): string {
  return `${customerId}\u0000\u0000${keyId === undefined ? 'wallet' : `key:${keyId}:wallet`}\u00000\u0000${currency}\u0000prepaid`;
}

/** The global zone: `timeZone`, else `timezone` (both spellings are accepted). */
export function globalTimeZone(config: Pick<Config, 'timezone' | 'timeZone'>): string {
  return config.timeZone ?? config.timezone;
}

/** Every zone a budget may follow besides the global one: the ledger keeps aggregates for each. */
export function budgetTimeZones(config: Pick<Config, 'customers' | 'plans'>): string[] {
  const zones = new Set<string>();
  for (const p of config.plans) if (p.timeZone) zones.add(p.timeZone);
  for (const c of config.customers) if (c.timeZone) zones.add(c.timeZone);
  return [...zones];
}
