import type { Config } from '../config/schema.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import { sessionBudgetRefs, type SessionBudgetRef } from '../budget/session-budgets.js';
import { perMillionToPico, type ResaleTerms } from '../pricing/resale.js';
import { configCatalog, type Catalog } from '../control/catalog.js';
import type { KeyRecord } from '../control/control-records.js';

// Everything that governs calls in a (customer, agent) scope besides the
// budgets themselves: velocity caps, loop protection, refusal style, clamping.
// Pure: computed from config; window slots are bound by the supervisor.

export type RateMetric = 'requests' | 'tokens' | 'usd';

export interface RateSpec {
  key: string;          // stable identity (scope + metric + window)
  metric: RateMetric;
  limit: number;        // requests, tokens, or nano-USD
  windowMs: number;
  label: string;        // e.g. "60 requests per minute"
  scope: { customer: string; agent: string | null; source: 'customer' | 'plan' | 'agent' | 'key'; key?: string };
}

export interface RateRef extends RateSpec { slot: number }

export interface ScopePolicy {
  rates: RateSpec[];
  loop: { maxRepeats: number; windowMs: number } | null;
  refusal: { mode: 'error' | 'message'; topUpUrl?: string };
  clampMaxTokens: boolean;
  resale: ResaleTerms;
  /** Caps on each session of the customer (x-tollgate-session); counted in the session table. */
  sessions: SessionBudgetRef[];
}

/** A scope as shards use it: its budget counters, its window counters, its policy. */
export interface ResolvedScope {
  refs: BudgetRef[];
  rates: RateRef[];
  loop: ScopePolicy['loop'];
  refusal: ScopePolicy['refusal'];
  clampMaxTokens: boolean;
  resale: ResaleTerms;
  sessions: SessionBudgetRef[];
}

type RateConfig = NonNullable<Config['plans'][number]['rateLimit']>;

const WINDOWS: [keyof RateConfig, RateMetric, number, string][] = [
  ['requestsPerMinute', 'requests', 60_000, 'requests per minute'],
  ['tokensPerMinute', 'tokens', 60_000, 'tokens per minute'],
  ['usdPerMinute', 'usd', 60_000, 'USD per minute'],
  ['requestsPerHour', 'requests', 3_600_000, 'requests per hour'],
  ['tokensPerHour', 'tokens', 3_600_000, 'tokens per hour'],
  ['usdPerHour', 'usd', 3_600_000, 'USD per hour'],
];

export function scopePolicy(config: Config, customerId: string, agent: string | null, catalog: Catalog = configCatalog(config), key?: KeyRecord): ScopePolicy {
  const customer = catalog.customer(customerId);
  const planName = customer ? customer.plan : catalog.defaultPlan;
  const plan = planName ? catalog.plan(planName) : undefined;
  const rates: RateSpec[] = [];
  const add = (rl: RateConfig | undefined, source: 'customer' | 'plan' | 'agent' | 'key') => {
    if (!rl) return;
    const scopeAgent = source === 'agent' ? agent : null;
    const from = source === 'key' ? `key:${key!.key_id}` : source;
    for (const [field, metric, windowMs, words] of WINDOWS) {
      const v = rl[field];
      if (v === undefined) continue;
      rates.push({
        key: `${customerId}\u0000${scopeAgent ?? ''}\u0000${from}\u0000${field}`,
        metric,
        limit: metric === 'usd' ? Math.round(v * 1e9) : v,
        windowMs,
        label: `${v} ${words}`,
        scope: { customer: customerId, agent: scopeAgent, source, ...(source === 'key' ? { key: key!.key_id } : {}) },
      });
    }
  };
  // A customer's own rateLimit replaces the plan's; an agent's and an issued key's apply on top.
  add(customer?.rateLimit ?? plan?.rateLimit, customer?.rateLimit ? 'customer' : 'plan');
  if (agent) {
    const own = customer?.agents.find((a) => a.id === agent);
    add(own?.rateLimit ?? customer?.agentDefaults?.rateLimit ?? plan?.agentDefaults?.rateLimit, 'agent');
  }
  add(key?.rateLimit, 'key');
  const loop = customer?.loopProtection ?? plan?.loopProtection;
  const refusal = customer?.refusal ?? plan?.refusal ?? { mode: 'error' as const };
  return {
    rates,
    loop: loop ? { maxRepeats: loop.maxRepeats, windowMs: loop.window } : null,
    refusal: { mode: refusal.mode, topUpUrl: refusal.topUpUrl },
    clampMaxTokens: customer?.clampMaxTokens ?? plan?.clampMaxTokens ?? false,
    sessions: sessionBudgetRefs(config, customerId, catalog),
    resale: {
      markup: customer?.markup ?? plan?.markup ?? 1,
      prices: Object.fromEntries(Object.entries({ ...plan?.prices, ...customer?.prices }).map(([model, p]) => [model, {
        input: perMillionToPico(p.input),
        output: perMillionToPico(p.output),
        ...(p.cachedInput !== undefined ? { cache_read: perMillionToPico(p.cachedInput) } : {}),
      }])),
    },
  };
}
