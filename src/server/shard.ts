import { parentPort, workerData } from 'node:worker_threads';
import uws from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import { BudgetTable } from '../budget/budget-table.js';
import { Exchange } from '../http/exchange.js';
import { errorBody } from '../http/errors.js';
import { readBody } from '../http/read-body.js';
import { ENDPOINTS, type EndpointId } from '../protocols/call.js';
import { handleModelCall, type CallHeaders } from '../proxy/model-call.js';
import { ShardContext } from '../proxy/shard-context.js';
import { loadPriceTable } from '../pricing/load-price-table.js';
import { Ledger } from '../store/ledger.js';
import { mountAdmin } from '../admin/admin-api.js';
import { ScopeResolver } from './scope-resolver.js';
import type { MainToShard, ShardToMain } from './messages.js';
import type { ClusterStats } from '../proxy/shard-metrics.js';

// A shard: one worker thread, one uWS app on the shared port (SO_REUSEPORT
// spreads connections), one copy of the pipeline. Budget counters are shared
// through the SharedArrayBuffer; the ledger through LMDB.

export interface ShardData {
  config: Config;
  shard: number;
  shards: number;
  sab: SharedArrayBuffer;
  port: number;
}

const data = workerData as ShardData;
const port = parentPort!;
const send = (m: ShardToMain) => port.postMessage(m);

const config = data.config;
const table = new BudgetTable(data.sab, data.shards);
const ledger = new Ledger(config.dataDir, config.timezone, config.ledger.sync);
const scopes = new ScopeResolver(send);
const ctx = new ShardContext(config, data.shard, table, ledger, loadPriceTable(), scopes);

const collectWaiters = new Map<number, (s: ClusterStats) => void>();
let collectId = 1;
function collectStats(): Promise<ClusterStats> {
  const id = collectId++;
  return new Promise((resolve) => {
    collectWaiters.set(id, resolve);
    send({ t: 'collect', id });
  });
}

port.on('message', (m: MainToShard) => {
  if (scopes.onMessage(m)) return;
  switch (m.t) {
    case 'snapshot-request':
      send({ t: 'snapshot', id: m.id, data: ctx.metrics.snapshot({ reservationsOpen: ctx.book.size, inFlight: ctx.inFlight }) });
      break;
    case 'collected':
      collectWaiters.get(m.id)?.(m.stats);
      collectWaiters.delete(m.id);
      break;
    case 'drain':
      void drain();
      break;
  }
});

const app = uws.App();
const exchange = (res: uws.HttpResponse) => new Exchange(res, () => ctx.draining);

app.get('/healthz', (res) => exchange(res).json(200, { status: 'ok' }));
app.get('/readyz', (res) => {
  const ex = exchange(res);
  if (ctx.draining) ex.json(503, { status: 'draining' });
  else ex.json(200, { status: 'ready' });
});

for (const endpoint of Object.keys(ENDPOINTS) as EndpointId[]) {
  app.post(ENDPOINTS[endpoint].path, (res, req) => {
    const ex = exchange(res);
    // uWS invalidates `req` at the first await: copy what we need now.
    const h: CallHeaders = {
      authorization: req.getHeader('authorization'),
      apiKey: req.getHeader('x-api-key'),
      customer: req.getHeader('x-tollgate-customer'),
      agent: req.getHeader('x-tollgate-agent'),
      tags: req.getHeader('x-tollgate-tags'),
      idempotencyKey: req.getHeader('idempotency-key'),
      anthropicVersion: req.getHeader('anthropic-version'),
      anthropicBeta: req.getHeader('anthropic-beta'),
      accept: req.getHeader('accept'),
    };
    const declared = Number(req.getHeader('content-length') || 0);
    const body = readBody(res, config.limits.maxBodyBytes, declared);
    if (ctx.draining) {
      ex.json(503, errorBody(ENDPOINTS[endpoint].protocol, 'overloaded_error', 'the proxy is shutting down; retry on another instance'), { 'retry-after': '1' });
      return;
    }
    void handleModelCall(ctx, ex, endpoint, h, body);
  });
}

app.get('/v1/models', (res, req) => {
  const ex = exchange(res);
  const who = ctx.keys.identify({
    authorization: req.getHeader('authorization'), apiKey: req.getHeader('x-api-key'),
    customer: req.getHeader('x-tollgate-customer'), agent: '', tags: '',
  });
  if (!who.ok) {
    ex.json(who.status, errorBody('openai', who.type, who.message));
    return;
  }
  const created = Math.floor(Date.now() / 1000);
  ex.json(200, {
    object: 'list',
    data: ctx.routes.models().map((id) => ({ id, object: 'model', created, owned_by: 'tollgate' })),
  });
});

mountAdmin(app, { ctx, exchange, collectStats });

app.any('/*', (res, req) => {
  const ex = exchange(res);
  const url = req.getUrl();
  const method = req.getMethod().toUpperCase();
  const known = Object.values(ENDPOINTS).some((e) => e.path === url) || url === '/v1/models';
  if (known) ex.json(405, errorBody('openai', 'method_not_allowed', `${method} is not allowed on ${url}`));
  else ex.json(404, errorBody('openai', 'not_found_error', `no such endpoint: ${method} ${url.slice(0, 200)}`));
});

let listenSocket: uws.us_listen_socket | null = null;
app.listen(config.listen.host, data.port, (s) => {
  if (!s) {
    send({ t: 'listen-failed', shard: data.shard, message: `cannot listen on ${config.listen.host}:${data.port}` });
    return;
  }
  listenSocket = s;
  send({ t: 'ready', shard: data.shard, port: uws.us_socket_local_port(s as unknown as uws.us_socket) });
});

const sweeper = setInterval(() => {
  const now = Date.now();
  ctx.book.sweep(now);
  ctx.cancelOverdue(now, 'upstream total timeout');
}, 1000);
sweeper.unref();

async function drain(): Promise<void> {
  if (ctx.draining) return;
  ctx.draining = true;
  if (listenSocket) uws.us_listen_socket_close(listenSocket);
  listenSocket = null;
  const idle = await ctx.whenIdle(config.shutdownGrace);
  if (!idle) {
    // Cancelled calls still settle and record what they used before we close the ledger.
    ctx.log('warn', 'grace period over: cancelling calls in flight', { in_flight: ctx.inFlight });
    ctx.cancelOverdue(Infinity, 'cancelled: shutdown grace period over');
    await ctx.whenIdle(5_000);
  }
  await ledger.flush();
  await ctx.close();
  await ledger.close();
  // Closes idle keep-alive connections too: a worker torn down with open uWS
  // sockets aborts the whole process.
  (app as unknown as { close(): void }).close(); // present in the binding, missing from its .d.ts
  send({ t: 'drained', shard: data.shard });
}
