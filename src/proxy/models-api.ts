import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Exchange } from '../http/exchange.js';
import { decodeParam } from '../http/url-param.js';
import { priceView } from '../admin/pricing-api.js';
import { modelCatalog, type CatalogEntry } from '../routing/model-catalog.js';
import type { ShardContext } from './shard-context.js';
import { readIdentityHeaders } from '../identity/header-values.js';

// GET /v1/models (openai `models.list`, anthropic `models.list`) and
// GET /v1/models/{id} (`models.retrieve`): the models this caller can reach
// (routing/model-catalog.ts), each with the price this caller pays
// (`tollgate_price`, markup or custom list applied). An `anthropic-version`
// header gets the Anthropic shape, everything else OpenAI's.

export interface ModelsDeps {
  ctx: ShardContext;
  exchange: (res: HttpResponse) => Exchange;
}

// The catalog only changes with a reload or a new price table: rebuilt when either object changes.
let cached: { routes: unknown; prices: unknown; list: CatalogEntry[] } | undefined;

function catalog(ctx: ShardContext): CatalogEntry[] {
  const routes = ctx.routes.providers(); // replaced on every reload, like the routes themselves
  if (cached && cached.routes === routes && cached.prices === ctx.prices) return cached.list;
  const routeNames = ctx.routes.routeNames();
  const list = modelCatalog({
    routes: routeNames.map((name) => ({ name, pricedAs: ctx.routes.listedModel(name) })),
    providers: routes,
    prices: ctx.prices.entries(),
  });
  cached = { routes, prices: ctx.prices, list };
  return list;
}

export function mountModels(app: TemplatedApp, deps: ModelsDeps): void {
  const { ctx } = deps;
  const answer = (res: HttpResponse, req: HttpRequest, id: string | null | undefined) => {
    const ex = deps.exchange(res);
    const anthropic = req.getHeader('anthropic-version') !== '';
    const protocol = anthropic ? 'anthropic' : 'openai';
    // No agent, tags or session: prices are per customer and plan, and a listing must not create agent scopes.
    const who = ctx.keys.identify({ ...readIdentityHeaders(req), agent: '', tags: '', session: '' });
    if (!who.ok) return void ex.fail(protocol, who.type, who.message);
    if (id === null) return void ex.fail(protocol, 'invalid_request_error', 'model id: malformed percent-encoding');
    const caller = who.caller;
    const created = Math.floor(Date.now() / 1000);
    void (async () => {
      const scope = await ctx.scopes.get(caller.customer, null);
      const view = (e: CatalogEntry) => {
        const price = priceView(e.pricedAs, ctx.prices.lookup(e.pricedAs) ?? ctx.unknownPrice, scope.resale);
        const tollgate_price = price ? { unit: price.unit, ...price.customer_price } : undefined;
        return anthropic
          ? { type: 'model', id: e.id, display_name: e.id, created_at: new Date(created * 1000).toISOString(), ...(tollgate_price ? { tollgate_price } : {}) }
          : { id: e.id, object: 'model', created, owned_by: e.ownedBy, ...(tollgate_price ? { tollgate_price } : {}) };
      };
      const list = catalog(ctx);
      if (id === undefined) {
        const data = list.map(view);
        ex.json(200, anthropic
          ? { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null }
          : { object: 'list', data });
        return;
      }
      const e = list.find((m) => m.id === id);
      if (!e) ex.fail(protocol, 'model_not_found', `The model '${id.slice(0, 200)}' does not exist or is not served here`);
      else ex.json(200, view(e));
    })().catch((err) => ex.fail(protocol, 'overloaded_error', (err as Error).message));
  };
  app.get('/v1/models', (res, req) => answer(res, req, undefined));
  app.get('/v1/models/:id', (res, req) => answer(res, req, decodeParam(req.getParameter(0))));
}
