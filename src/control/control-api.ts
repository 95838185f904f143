import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { BodyTooLarge, readBody } from '../http/read-body.js';
import { decodeParam } from '../http/url-param.js';
import type { AdminExchange, Guard } from '../admin/admin-guard.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { decodeAuditCursor } from './audit-log.js';
import type { ControlLink } from './control-link.js';
import type { ControlAnswer, ControlOp } from './control-plane.js';
import { publicKey } from './control-records.js';
import type { ControlStore } from './control-store.js';

// Admin API of the control plane (docs/interface.md, "Control plane"):
// writes go through the admin guard (a read token gets 403) to the
// supervisor, which answers once the change is durable and applied on every
// shard; reads come from this shard's copy of the state and from LMDB.

const MAX_BODY = 256 * 1024;
const MAX_PAGE = 1000;

export interface ControlApiDeps {
  ctx: ShardContext;
  guard: Guard;
  link: ControlLink;
  store: ControlStore;
}

export function mountControl(app: TemplatedApp, deps: ControlApiDeps): void {
  const { ctx, guard, link, store } = deps;

  /** Guard, the first `params` path parameters, body (read at once: uWS drops `req` at the first await), then the write. */
  const write = (params: number, withBody: boolean, build: (params: string[], body: unknown) => ControlOp) => (res: HttpResponse, req: HttpRequest) => {
    const ex = guard(res, req);
    if (!ex) return;
    const values: string[] = [];
    for (let i = 0; i < params; i++) {
      const p = decodeParam(req.getParameter(i));
      if (p === null) return void ex.fail('openai', 'invalid_request_error', 'path: malformed percent-encoding');
      values.push(p);
    }
    const body = withBody ? readBody(res, MAX_BODY, Number(req.getHeader('content-length') || 0), ctx.config.limits.bodyTimeout) : Promise.resolve(Buffer.alloc(0));
    body.catch(() => {});
    void (async () => {
      let parsed: unknown;
      try {
        const raw = await body;
        parsed = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch (err) {
        if (err instanceof BodyTooLarge) return ex.fail('openai', 'request_too_large', `request body is larger than the ${MAX_BODY}-byte limit`);
        return ex.fail('openai', 'invalid_request_error', 'body: not JSON');
      }
      answer(ex, await link.write(ex.actor, build(values, parsed)).catch((err): ControlAnswer => ({ ok: false, type: 'overloaded_error', message: (err as Error).message })));
    })();
  };

  app.post('/admin/customers', write(0, true, (_, body) => ({ op: 'create-customer', body })));
  app.patch('/admin/customers/:id', write(1, true, ([id], body) => ({ op: 'patch-customer', id: id!, body })));
  app.del('/admin/customers/:id', write(1, false, ([id]) => ({ op: 'delete-customer', id: id! })));
  app.post('/admin/customers/:id/keys', write(1, true, ([customer], body) => ({ op: 'issue-key', customer: customer!, body })));
  app.del('/admin/customers/:id/keys/:key_id', write(2, false, ([customer, keyId]) => ({ op: 'revoke-key', customer: customer!, key_id: keyId! })));
  app.put('/admin/plans/:name', write(1, true, ([name], body) => ({ op: 'put-plan', name: name!, body })));
  app.post('/admin/customers/:id/budgets/reset', write(1, true, ([customer], body) => ({ op: 'reset-spend', customer: customer!, body })));

  app.get('/admin/customers/:id/keys', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const customer = decodeParam(req.getParameter(0));
    if (customer === null) return void ex.fail('openai', 'invalid_request_error', 'customer id: malformed percent-encoding');
    if (!ctx.control.catalog.customer(customer)) return void ex.fail('openai', 'not_found_error', `no customer "${customer}"`);
    const page = pageOf(new URLSearchParams(req.getQuery() ?? ''));
    if (typeof page === 'string') return void ex.fail('openai', 'invalid_request_error', page);
    const ids = [...(ctx.control.keysOf.get(customer) ?? [])].sort().filter((id) => !page.cursor || id > page.cursor);
    const keys = ids.slice(0, page.limit).map((id) => publicKey(ctx.control.keys.get(id)!, store.lastUsed(id)));
    ex.json(200, { keys, next_cursor: ids.length > page.limit ? keys[keys.length - 1]!.key_id : null });
  });

  // The state as the shard that answers holds it: every shard reports the same version once a write answered.
  app.get('/admin/control', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const s = ctx.control;
    ex.json(200, { version: s.version, shard: ctx.shard, customers: s.catalog.customerCount, keys: s.keys.size });
  });

  app.get('/admin/plans', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const plans = [...ctx.control.catalog.plans()].sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((p) => ({ ...p, configured: ctx.control.catalog.configuredPlans.has(p.name) }));
    ex.json(200, { plans });
  });

  app.get('/admin/audit', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    const qs = new URLSearchParams(req.getQuery() ?? '');
    const time = (name: string): number | undefined | string => {
      const v = qs.get(name);
      if (v === null || v === '') return undefined;
      const t = Date.parse(v);
      return Number.isFinite(t) ? t : `${name}: an ISO 8601 date or date-time (got "${v.slice(0, 40)}")`;
    };
    const from = time('from');
    const to = time('to');
    for (const t of [from, to]) if (typeof t === 'string') return void ex.fail('openai', 'invalid_request_error', t);
    const page = pageOf(qs);
    if (typeof page === 'string') return void ex.fail('openai', 'invalid_request_error', page);
    const cursor = page.cursor ? decodeAuditCursor(page.cursor) : undefined;
    if (cursor === null) return void ex.fail('openai', 'invalid_request_error', 'cursor: not a cursor from a previous answer');
    ex.json(200, store.audit.page({ from: from as number | undefined, to: to as number | undefined, limit: page.limit, cursor }));
  });
}

function answer(ex: AdminExchange, a: ControlAnswer): void {
  if (ex.aborted) return;
  if (a.ok) ex.json(a.status, a.body);
  else ex.fail('openai', a.type, a.message, a.problems ? { problems: a.problems } : undefined);
}

/** `limit` (1-1000, default 100) and `cursor` (opaque: the last id of the previous page). */
export function pageOf(qs: URLSearchParams): { limit: number; cursor: string | undefined } | string {
  const v = qs.get('limit');
  const limit = v === null || v === '' ? 100 : Number(v);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) return `limit: a whole number from 1 to ${MAX_PAGE} (got "${String(v).slice(0, 20)}")`;
  return { limit, cursor: qs.get('cursor') || undefined };
}
