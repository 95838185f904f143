import type { TemplatedApp } from 'uWebSockets.js';
import { BodyTooLarge, readBody } from '../http/read-body.js';
import { scopePolicy } from '../policy/scope-policy.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { toPublicAdjustment, type PriceAdjustment } from '../store/price-adjustments.js';
import { nanoToUsd } from '../store/usage-record.js';
import type { Guard } from './admin-guard.js';
import { parseRerateRequest, rerate } from './rerate.js';

// POST /admin/rerate { from, to, reason, customer?, model?, actor? }: re-rates a period after a
// price correction (src/admin/rerate.ts). GET /admin/rerate/adjustments?from&to[&customer]
// [&rerate_id][&limit]: the audit log, by the adjusted rows' time.
//
// Live budget counters: an adjusted row whose period is the one a budget counter is counting now
// moves that counter (money budgets only, by the billed delta, in the budget's currency). Past
// periods live only in the ledger, whose aggregates the same transaction adjusted. Velocity
// windows (usdPerMinute / usdPerHour) and threshold alerts already sent are not revisited.

const MAX_BODY = 16 * 1024;
const MAX_LIMIT = 100_000;

export function mountRerate(app: TemplatedApp, deps: { ctx: ShardContext; guard: Guard }): void {
  const { ctx, guard } = deps;

  app.post('/admin/rerate', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const body = readBody(res, MAX_BODY, Number(req.getHeader('content-length') || 0), ctx.config.limits.bodyTimeout);
    body.catch(() => {});
    void (async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse((await body).toString('utf8'));
      } catch (err) {
        if (err instanceof BodyTooLarge) return ex.fail('openai', 'request_too_large', `request body is larger than the ${MAX_BODY}-byte limit`);
        return ex.fail('openai', 'invalid_request_error', 'body: not JSON');
      }
      const request = parseRerateRequest(parsed, 'admin-api');
      if (typeof request === 'string') return ex.fail('openai', 'invalid_request_error', request);
      const providers = new Map(ctx.config.providers.map((p) => [p.name, p.type]));
      let counters = 0;
      const refs = new Map<string, readonly BudgetRef[]>();
      const r = await rerate({
        ledger: ctx.ledger,
        prices: ctx.prices,
        resaleOf: (customer, agent) => scopePolicy(ctx.config, customer, agent, ctx.control.catalog).resale,
        providerType: (name) => (name ? providers.get(name) : undefined),
        prepare: (planned) => bindScopes(ctx, planned, refs),
        onApplied: (applied) => { counters += moveLiveCounters(ctx, applied, refs); },
      }, request);
      ctx.log('info', 'usage re-rated', { rerate_id: r.rerate_id, actor: request.actor, reason: request.reason, adjusted: r.adjusted, billed_delta_nano: r.billed_delta_nano });
      if (ex.aborted) return;
      ex.json(200, {
        rerate_id: r.rerate_id,
        from: new Date(request.from).toISOString(),
        to: new Date(request.to).toISOString(),
        customer: request.customer ?? null,
        model: request.model ?? null,
        reason: request.reason,
        actor: request.actor,
        rows_considered: r.scanned,
        adjusted: r.adjusted,
        unchanged: r.unchanged,
        skipped: r.skipped,
        cost_delta_usd: nanoToUsd(r.cost_delta_nano),
        billed_delta_usd: nanoToUsd(r.billed_delta_nano),
        budget_counters_moved: counters,
      });
    })().catch((err) => {
      ctx.log('error', 're-rate failed', { error: String((err as Error)?.stack ?? err) });
      if (!ex.aborted) ex.fail('openai', 'internal_error', `re-rate failed: ${(err as Error).message}; batches already committed stay (run it again: it is idempotent)`);
    });
  });

  app.get('/admin/rerate/adjustments', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const qs = new URLSearchParams(req.getQuery() ?? '');
    const range: { from?: number; to?: number } = {};
    for (const f of ['from', 'to'] as const) {
      const v = qs.get(f);
      if (!v) continue;
      const t = Date.parse(v);
      if (Number.isNaN(t)) return void ex.fail('openai', 'invalid_request_error', `${f}: not an ISO date or time (got "${v.slice(0, 40)}")`);
      range[f] = t;
    }
    const limitRaw = qs.get('limit');
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return void ex.fail('openai', 'invalid_request_error', `limit: a whole number from 1 to ${MAX_LIMIT}`);
    const customer = qs.get('customer');
    const id = qs.get('rerate_id');
    const out = [];
    let truncated = false;
    for (const a of ctx.ledger.adjustments(range)) {
      if ((customer && a.customer !== customer) || (id && a.rerate_id !== id)) continue;
      if (out.length === limit) {
        truncated = true;
        break;
      }
      out.push(toPublicAdjustment(a));
    }
    ex.json(200, { adjustments: out, truncated });
  });
}

const scopeKey = (a: PriceAdjustment) => `${a.customer}\u0000${a.agent ?? ''}`;

/**
 * Resolves the budget counters of every scope in a batch BEFORE the batch commits: a counter
 * created now is seeded from the ledger's aggregates, and must be seeded from the ones the
 * deltas have not reached yet, or moveLiveCounters would count them twice.
 */
async function bindScopes(ctx: ShardContext, planned: readonly PriceAdjustment[], bound: Map<string, readonly BudgetRef[]>): Promise<void> {
  for (const a of planned) {
    const k = scopeKey(a);
    if (bound.has(k)) continue;
    try {
      const r = ctx.scopes.get(a.customer, a.agent);
      bound.set(k, (r instanceof Promise ? await r : r).refs);
    } catch (err) {
      bound.set(k, []);
      ctx.log('warn', 're-rate: budget counters of a scope not moved (its scope could not be resolved); they follow on the next restart, which seeds them from the ledger', { customer: a.customer, agent: a.agent, error: (err as Error).message });
    }
  }
}

/**
 * Moves the live money counters whose current period holds adjusted rows by the billed deltas.
 * Returns how many counters moved.
 */
function moveLiveCounters(ctx: ShardContext, applied: readonly PriceAdjustment[], bound: ReadonlyMap<string, readonly BudgetRef[]>): number {
  const byScope = new Map<string, PriceAdjustment[]>();
  for (const a of applied) {
    const k = scopeKey(a);
    let rows = byScope.get(k);
    if (!rows) byScope.set(k, (rows = []));
    rows.push(a);
  }
  const deltas = new Map<number, bigint>();
  for (const [k, rows] of byScope) {
    for (const ref of bound.get(k) ?? []) {
      if (ref.kind !== 'money') continue;
      const start = ctx.table.periodStart(ref.slot);
      let nano = 0;
      for (const a of rows) if (ctx.clock.window(ref.period, a.row_ts, ref.timeZone).start === start) nano += a.new_billed_nano - a.old_billed_nano;
      if (nano) deltas.set(ref.slot, (deltas.get(ref.slot) ?? 0n) + BigInt(Math.round(nano * ref.rate)));
    }
  }
  // settle() with nothing held adds to spent and committed alike: committed = spent + holds stays true.
  for (const [slot, d] of deltas) if (d !== 0n) ctx.table.settle(slot, 0n, d, ctx.shard);
  return [...deltas.values()].filter((d) => d !== 0n).length;
}
