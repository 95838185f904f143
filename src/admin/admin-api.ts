import type { TemplatedApp } from 'uWebSockets.js';
import { Exchange } from '../http/exchange.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { toPublicRow } from '../store/usage-record.js';
import { agentScopeKey, customerScopeKey } from '../store/aggregates.js';
import type { Guard } from './admin-guard.js';
import { decodeParam } from '../http/url-param.js';
import { customerView } from './customer-view.js';
import { customerRecord } from './customer-list.js';
import { pricingResponse } from './pricing-api.js';
import { encodeCursor, parseUsageRequest } from './usage-query.js';
import { mountReports } from './reports-api.js';
import { mountRerate } from './rerate-api.js';
import { exportCsv } from './csv-export.js';
import { failRead, usageRows } from './usage-source.js';
import { mountOpenApi } from './openapi-route.js';
import { mountWhoami } from './whoami-api.js';

// Admin API (docs/interface.md), bearer adminToken through the admin guard. Reads come straight from LMDB
// (memory-mapped, synchronous) and the shared budget table.

export interface AdminDeps {
  ctx: ShardContext;
  /** Admin token, shared failure limiter, security headers (admin-guard.ts). */
  guard: Guard;
  collectStats: () => Promise<unknown>;
}

export function mountAdmin(app: TemplatedApp, deps: AdminDeps): void {
  const { ctx } = deps;
  const { guard } = deps;

  app.get('/admin/customers/:id', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const id = decodeParam(req.getParameter(0));
    if (id === null) return void ex.fail('openai', 'invalid_request_error', 'customer id: malformed percent-encoding');
    const agent = new URLSearchParams(req.getQuery() ?? '').get('agent');
    const now = Date.now();
    const known = ctx.keys.customer(id) !== undefined;
    if (!known && ctx.ledger.aggregateAt(customerScopeKey(id), 'total', now).calls === 0 && ctx.ledger.aggregateAt(customerScopeKey(id), 'total', now).blocked === 0) {
      ex.fail('openai', 'not_found_error', `no customer "${id}": not configured and never seen`);
      return;
    }
    void (async () => {
      try {
        const r = ctx.scopes.get(id, agent || null);
        const scope = r instanceof Promise ? await r : r;
        const view = customerView(id, agent || null, scope.refs, ctx.table, ctx.clock, now);
        const totals = ctx.ledger.aggregateAt(agent ? agentScopeKey(id, agent) : customerScopeKey(id), 'month', now);
        // What the record says (the dashboard's plan form edits it).
        const { plan, metadata, configured, disabled } = customerRecord(ctx, id);
        ex.json(200, {
          ...view,
          plan,
          metadata,
          configured,
          disabled,
          month: { calls: totals.calls, blocked: totals.blocked, cost_usd: totals.cost_nano / 1e9, billed: totals.billed_nano / 1e9 },
        });
      } catch (err) {
        ex.fail('openai', 'overloaded_error', (err as Error).message);
      }
    })();
  });

  app.get('/admin/usage', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const qs = new URLSearchParams(req.getQuery() ?? '');
    const csv = qs.get('format') === 'csv';
    const parsed = parseUsageRequest(qs, csv);
    if (typeof parsed === 'string') {
      ex.fail('openai', 'invalid_request_error', parsed);
      return;
    }
    if (!csv) {
      void (async () => {
        const rows = [];
        let next: string | null = null;
        for await (const row of usageRows(ctx, parsed.query)) {
          if (rows.length === parsed.limit) {
            const prev = rows[rows.length - 1]!;
            next = encodeCursor(Date.parse(prev.ts), prev.request_id);
            break;
          }
          rows.push(toPublicRow(row));
        }
        ex.json(200, { rows, next_cursor: next });
      })().catch((err) => failRead(ex, ctx, err));
      return;
    }
    streamCsv(ex, ctx, parsed.query, parsed.limit);
  });

  app.get('/admin/stats', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    deps.collectStats().then((s) => ex.json(200, s), (err) => ex.fail('openai', 'internal_error', String(err)));
  });

  app.get('/admin/pricing/:model', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const model = decodeParam(req.getParameter(0));
    if (model === null) return void ex.fail('openai', 'invalid_request_error', 'model: malformed percent-encoding');
    const q = new URLSearchParams(req.getQuery() ?? '');
    const customer = q.get('customer');
    void (async () => {
      try {
        const scope = customer ? await ctx.scopes.get(customer, null) : undefined;
        const r = pricingResponse(ctx.prices, model, { provider: q.get('provider') ?? undefined, priceAs: q.get('priceAs') ?? undefined }, ctx.unknownPrice, scope?.resale);
        ex.json(r.status, customer && r.status === 200 ? { ...r.body, customer } : r.body);
      } catch (err) {
        ex.fail('openai', 'overloaded_error', (err as Error).message);
      }
    })();
  });

  mountReports(app, { ctx, guard });
  mountOpenApi(app, { guard });
  mountRerate(app, { ctx, guard });
  mountWhoami(app, { guard, config: () => ctx.config });
}

/** Streams every matching row as CSV with bounded memory; large exports run in a reader process (csv-export.ts). */
function streamCsv(ex: Exchange, ctx: ShardContext, query: Parameters<ShardContext['ledger']['rows']>[0], limit: number): void {
  exportCsv(ex, ctx, { query, limit: Number.isFinite(limit) ? limit : undefined }, 'usage');
}
