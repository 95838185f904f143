import type { ShardContext } from '../proxy/shard-context.js';
import { customerScopeKey, type Aggregate } from '../store/aggregates.js';
import { monthRange } from './report-query.js';
import { customerView } from './customer-view.js';

// GET /admin/customers: every customer (configured or seen in the ledger)
// with its live budgets — the dashboard's budget bars — and this month's
// totals. A budget is `capped` once used + reserved reaches its limit and
// `near_cap` from its lowest warn/degrade threshold below 1 (else 80%).

export const NEAR_CAP_DEFAULT = 0.8;

export type BudgetState = 'ok' | 'near_cap' | 'capped';

/**
 * q: substring of the id; prefix: start of the id; metadata: every `metadata.<name>=<value>` must match
 * (customers with metadata: configured or created through the control plane); cursor: the last id of the
 * previous page (`next_cursor`), an alternative to offset that stays stable while customers are added.
 */
export interface CustomerListQuery { q: string; offset: number; limit: number; prefix: string; metadata: [string, string][]; cursor: string | undefined }

export function parseCustomerListQuery(qs: URLSearchParams): CustomerListQuery | string {
  const int = (name: string, def: number, max: number): number | string => {
    const v = qs.get(name);
    if (!v) return def;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n <= max ? n : `${name}: a whole number from 0 to ${max} (got "${v.slice(0, 20)}")`;
  };
  const offset = int('offset', 0, 1e9);
  const limit = int('limit', 100, 1000);
  if (typeof offset === 'string') return offset;
  if (typeof limit === 'string') return limit;
  const metadata = [...qs.entries()].filter(([k]) => k.startsWith('metadata.')).map(([k, v]): [string, string] => [k.slice(9), v]);
  return { q: (qs.get('q') ?? '').toLowerCase(), offset, limit: limit || 100, prefix: qs.get('prefix') ?? '', metadata, cursor: qs.get('cursor') || undefined };
}

/** Ids of configured and runtime customers and of every customer the ledger (the cluster's, with `ledger.postgres`) has seen, sorted. */
async function customerIds(ctx: ShardContext): Promise<string[]> {
  const ids = new Set<string>();
  for (const c of ctx.control.catalog.customers()) ids.add(c.id);
  if (ctx.clusterLedger) for (const id of await ctx.clusterLedger.customerIds()) ids.add(id);
  else for (const { customer } of ctx.ledger.reports.customers()) ids.add(customer);
  return [...ids].sort();
}

/** This month's totals of a customer: the cluster's (report days of the month) with `ledger.postgres`, else this node's aggregate. */
async function monthTotals(ctx: ShardContext, now: number): Promise<(id: string) => Aggregate> {
  const cl = ctx.clusterLedger;
  if (!cl) return (id) => ctx.ledger.aggregateAt(customerScopeKey(id), 'month', now);
  const { from, to } = monthRange(cl.day(now).slice(0, 7));
  const source = await cl.customerTotals(from, to);
  return (id) => {
    const t = source.totals(id, from, to);
    return { cost_nano: t.cost_nano, billed_nano: t.billed_nano, tokens: t.prompt_tokens + t.completion_tokens, calls: t.calls, blocked: t.blocked };
  };
}

/** What a customer's record says: a customer only seen in the ledger or through an app key has none (the default plan). */
export function customerRecord(ctx: ShardContext, id: string): { plan: string | null; configured: boolean; disabled: boolean; metadata: Record<string, string> } {
  const record = ctx.keys.customer(id);
  return {
    plan: record ? record.plan ?? null : ctx.config.defaultPlan ?? null,
    configured: ctx.control.catalog.configuredCustomers.has(id),
    disabled: record?.disabled ?? false,
    metadata: record?.metadata ?? {},
  };
}

export async function listCustomers(ctx: ShardContext, query: CustomerListQuery, now = Date.now()) {
  const catalog = ctx.control.catalog;
  const [ids, monthOf] = await Promise.all([customerIds(ctx), monthTotals(ctx, now)]);
  const all = ids.filter((id) => (!query.q || id.toLowerCase().includes(query.q))
    && (!query.prefix || id.startsWith(query.prefix))
    && (!query.metadata.length || query.metadata.every(([k, v]) => catalog.customer(id)?.metadata?.[k] === v)));
  const from = query.cursor === undefined ? query.offset : sortedIndexAfter(all, query.cursor);
  const page = all.slice(from, from + query.limit);
  const customers = await Promise.all(page.map(async (id) => {
    const r = ctx.scopes.get(id, null);
    const scope = r instanceof Promise ? await r : r;
    const view = customerView(id, null, scope.refs, ctx.table, ctx.clock, now);
    const budgets = view.budgets.map((b, i) => {
      const ref = scope.refs[i]!;
      const ratio = b.limit > 0 ? (b.used + b.reserved) / b.limit : 0;
      const warns = ref.thresholds.filter((t) => t.action !== 'block' && t.at < 1).map((t) => t.at);
      const warnAt = warns.length ? Math.min(...warns) : NEAR_CAP_DEFAULT;
      const state: BudgetState = ratio >= 1 ? 'capped' : ratio >= warnAt ? 'near_cap' : 'ok';
      return { ...b, ratio: Math.round(ratio * 10_000) / 10_000, near_cap_at: warnAt, state };
    });
    const month = monthOf(id);
    const state: BudgetState = budgets.some((b) => b.state === 'capped') ? 'capped' : budgets.some((b) => b.state === 'near_cap') ? 'near_cap' : 'ok';
    const { plan, configured, disabled, metadata } = customerRecord(ctx, id);
    return {
      id,
      plan,
      configured,
      runtime: ctx.keys.customer(id) !== undefined && !configured,
      disabled,
      metadata,
      state,
      budgets,
      month: { calls: month.calls, blocked: month.blocked, cost_usd: month.cost_nano / 1e9, billed: month.billed_nano / 1e9, margin_usd: (month.billed_nano - month.cost_nano) / 1e9 },
    };
  }));
  return { total: all.length, offset: from, limit: query.limit, customers, next_cursor: from + query.limit < all.length ? page[page.length - 1]! : null };
}

/** Index of the first id after `cursor` in a sorted list. */
function sortedIndexAfter(ids: string[], cursor: string): number {
  let lo = 0, hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
