import '../clock/use-process-clock.js'; // first: the main thread's TOLLGATE_CLOCK_START offset, before anything reads the time
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import uws from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import { BudgetTable } from '../budget/budget-table.js';
import { budgetTimeZones } from '../budget/scope-budgets.js';
import { Exchange, closeStalledWrites } from '../http/exchange.js';
import { readBody, sweepSlowBodies } from '../http/read-body.js';
import { checkRequestHead } from '../http/request-limits.js';
import { guardHandlers } from '../http/safe-handlers.js';
import { mountMetrics } from '../observability/metrics-route.js';
import { ENDPOINTS, type EndpointId } from '../protocols/call.js';
import { handleModelCall, type CallHeaders } from '../proxy/model-call.js';
import { ShardContext } from '../proxy/shard-context.js';
import { readIdentityHeaders } from '../identity/header-values.js';
import { loadPriceTable, watchPriceTable } from '../pricing/load-price-table.js';
import { unpricedTargets } from '../pricing/unpriced-targets.js';
import { Ledger, isLmdbCommitFailure } from '../store/ledger.js';
import { LedgerHealth } from '../store/ledger-health.js';
import { PgLedger } from '../store/pg/pg-ledger.js';
import { LedgerProgress } from '../store/ledger-progress.js';
import { RowBatcher } from '../store/row-batcher.js';
import { mountAdmin } from '../admin/admin-api.js';
import { makeGuard } from '../admin/admin-guard.js';
import { adminTokens } from '../admin/admin-auth.js';
import { AuthFailureLimiter } from '../admin/auth-failure-limiter.js';
import { mountModels } from '../proxy/models-api.js';
import { mountCountTokens } from '../proxy/count-tokens.js';
import { mountProviders } from '../admin/providers-api.js';
import { RoutingLink } from './routing-link.js';
import { ControlLink } from '../control/control-link.js';
import { ControlStore } from '../control/control-store.js';
import { mountControl } from '../control/control-api.js';
import type { ControlSnapshot } from '../control/control-records.js';
import { mountMonitoring } from '../monitoring/monitoring-api.js';
import { mountDashboard } from '../dashboard/dashboard-routes.js';
import { Retention } from '../store/retention.js';
import { ScopeResolver } from './scope-resolver.js';
import { ThreadRpc } from './thread-rpc.js';
import { ClusterClient } from '../cluster/cluster-client.js';
import { mountClusterAdmin } from '../cluster/cluster-api.js';
import { mountBudgetDrift } from '../admin/budget-drift-api.js';
import { mountWallets } from '../wallet/wallet-api.js';
import { RateWindows } from '../policy/rate-windows.js';
import { LoopGuard } from '../policy/loop-guard.js';
import { IdempotencyClaims } from '../proxy/idempotency-claims.js';
import { SessionTable } from '../budget/session-table.js';
import type { LedgerDurableMessage, LedgerRowsMessage, MainToShard, ShardToMain } from './messages.js';
import type { ClusterStats } from '../proxy/shard-metrics.js';
import { flushLogger } from '../observability/logger.js';

// A shard: one worker thread, one uWS app on the shared port (SO_REUSEPORT
// spreads connections), one copy of the pipeline. Budget counters are shared
// through the SharedArrayBuffer; usage rows go to the ledger writer thread,
// reads come from LMDB.

export interface ShardData {
  config: Config;
  shard: number;
  shards: number;
  sab: SharedArrayBuffer;
  windowsSab: SharedArrayBuffer;
  windowBuckets: number;
  loopSab: SharedArrayBuffer;
  loopColumns: number;
  claimsSab: SharedArrayBuffer;
  /** Failed admin/metrics token attempts per client address, shared by every shard. */
  authFailuresSab: SharedArrayBuffer;
  port: number;
  ledgerHealthSab: SharedArrayBuffer;
  /** This shard's port to the ledger writer thread (rows out, durable acknowledgements in). */
  ledgerPort: MessagePort;
  /** The writer's journal and write-behind positions (read-your-writes). */
  ledgerProgressSab: SharedArrayBuffer;
  /** Generations of dynamic scopes (slot-registry.ts): a cached scope is stale once its generation moves. */
  scopeGensSab: SharedArrayBuffer;
  /** Session budget counters (session-table.ts), shared by every shard. */
  sessionsSab: SharedArrayBuffer;
  sessionCapacity: number;
  sessionColumns: number;
  /** Runtime customers, plans and keys at spawn (src/control/); later changes arrive as deltas. */
  control: ControlSnapshot;
}

const data = workerData as ShardData;
const port = parentPort!;
const send = (m: ShardToMain) => port.postMessage(m);
// Every request to the supervisor (scope, stats, routing, cluster) goes through this one helper.
const toMain = new ThreadRpc<ShardToMain>(send);

const config = data.config;
const table = new BudgetTable(data.sab, data.shards, { leased: !!config.redis });
const ledgerHealth = new LedgerHealth(data.ledgerHealthSab, data.shard + 1);
// Rows go to the process's ledger writer as one binary batch per event-loop turn; a batch's appends resolve when it is durable.
const rowBatcher = new RowBatcher((batch, rows, seq) => {
  data.ledgerPort.postMessage({ t: 'ledger-rows', seq, rows, buf: batch.buffer as ArrayBuffer, bytes: batch.length } satisfies LedgerRowsMessage, [batch.buffer as ArrayBuffer]);
}, config.ledger.commitTimeout);
data.ledgerPort.on('message', (m: LedgerDurableMessage) => rowBatcher.acked(m.seq));
const ledger = new Ledger(config.dataDir, config.timezone, config.ledger.sync, config.reports, {
  zones: budgetTimeZones(config), health: ledgerHealth, commitTimeoutMs: config.ledger.commitTimeout, log: (level, msg, f) => ctx.log(level, msg, f),
  appender: rowBatcher, progress: new LedgerProgress(data.ledgerProgressSab),
});
const scopes = new ScopeResolver(toMain, data.scopeGensSab);
const policy = { windows: new RateWindows(data.windowsSab, data.windowBuckets, !!config.redis), loops: new LoopGuard(data.loopSab, data.loopColumns), claims: new IdempotencyClaims(data.claimsSab), sessions: new SessionTable(data.sessionsSab, data.sessionCapacity, data.sessionColumns) };
const ctx = new ShardContext(config, data.shard, table, ledger, loadPriceTable(config.pricingTable), scopes, policy, data.control);
const controlStore = new ControlStore(config.dataDir, config.ledger.sync); // reads: audit log, last_used_at
const controlLink = new ControlLink(ctx, toMain, config.control.lastUsedFlush);
ctx.emit = send;
// The cluster ledger (ledger.postgres): admin listings and reports read every node's rows from it.
if (config.ledger.postgres) ctx.clusterLedger = new PgLedger({ url: config.ledger.postgres, timeZone: config.timezone, node: `shard-${data.shard}`, statementTimeoutMs: 30_000, log: (level, msg) => ctx.log(level, msg) });
// A target the table cannot price is refused (or billed by the unknownModel rule): say so at startup.
if (data.shard === 0) for (const u of unpricedTargets(config, ctx.prices)) ctx.log('warn', 'configured target has no price in the table', { ...u });
// Cluster mode: a call whose lease ran short asks the supervisor for more (src/cluster/).
const cluster = config.redis ? new ClusterClient(toMain, table, 4 * config.cluster.redisTimeout + 1_000) : undefined;
if (cluster) {
  ctx.onBudgetShortfall = (refs, estimate) => cluster.shortfall(refs, estimate);
  ctx.onRateShortfall = (short) => cluster.rateShortfall(short, config.cluster.redisDown === 'open');
  ctx.countLoopHit = (fp, windowMs, now, add) => cluster.loopHit(fp, windowMs, now, add);
  ctx.clusterIdempotency = { claim: (c, k, r) => cluster.claimIdempotency(c, k, r), finish: (c, k, r, charged) => cluster.finishIdempotency(c, k, r, charged) };
}
// `npm run pricing:update` takes effect without a restart.
const stopWatchingPrices = watchPriceTable(
  (t) => {
    ctx.prices = t;
    ctx.log('info', 'price table reloaded', { models: t.size });
  },
  (err) => ctx.log('error', 'price table reload failed; keeping the previous table', { error: err.message }),
  config.pricingTable,
);

// A rejection nobody handled is a bug to log, not a reason to drop every call on this shard.
process.on('unhandledRejection', (err) => {
  // lmdb-js leaves one internal promise per failed commit unobserved; the ledger handles that same failure (ledger.ts #hold).
  if (isLmdbCommitFailure(err)) return;
  ctx.log('error', 'unhandled rejection', { error: String((err as Error)?.stack ?? err).slice(0, 2000) });
});

// A shard that dies mid-collection never answers: the timeout keeps the request from hanging.
const collect = (format?: 'prometheus') =>
  toMain.request<{ stats: ClusterStats; text?: string }>((id) => ({ t: 'collect', id, format }), { timeoutMs: 10_000, what: 'collection from the shards' });
const collectStats = () => collect().then((r) => r.stats);

const routingLink = new RoutingLink(ctx, toMain);

port.on('message', (m: MainToShard) => {
  if (routingLink.onMessage(m)) return;
  if (controlLink.onMessage(m)) return;
  if (cluster?.onMessage(m)) return;
  switch (m.t) {
    case 'snapshot-request':
      if (ledger.commitSamples.length) ctx.metrics.recordCommits(ledger.commitSamples.splice(0));
      void ctx.metrics.snapshot({ reservationsOpen: ctx.book.size, inFlight: ctx.inFlight }, m.detail).then((data) => send({ t: 'snapshot', id: m.id, data }));
      break;
    case 'resolved':
      toMain.reply(m.id, m);
      break;
    case 'collected':
      toMain.reply(m.id, { stats: m.stats, text: m.text });
      break;
    case 'budget-drift-report':
      if (m.report) toMain.reply(m.id, m.report);
      else toMain.fail(m.id, new Error(m.error ?? 'drift check failed'));
      break;
    case 'wallet-answer':
      if (m.outcome) toMain.reply(m.id, m.outcome);
      else toMain.fail(m.id, new Error(m.error ?? 'wallet request failed'));
      break;
    case 'drain':
      void drain();
      break;
  }
});

const app = guardHandlers(uws.App(), (err, method, url) => ctx.log('error', 'request handler threw', { method, url, error: String((err as Error)?.stack ?? err).slice(0, 2000) }));
const isDraining = () => ctx.draining;
const exchange = (res: uws.HttpResponse) => new Exchange(res, isDraining);
// One guard for every admin and metrics route: token, failure limiter across shards, security headers.
const adminTokenList = adminTokens(config);
const metricsTokens = config.metrics.token ? [{ name: 'metrics', token: config.metrics.token, role: 'read' as const }] : [];
const authFailures = new AuthFailureLimiter(config.limits.adminAuthFailuresPerMinute, data.authFailuresSab);
if (config.redis) authFailures.onFail = (address) => send({ t: 'auth-failure', address });
const adminGuard = makeGuard({
  limiter: authFailures, draining: () => ctx.draining, tokens: () => adminTokenList,
  hint: 'admin API: send Authorization: Bearer <adminToken>', disabled: 'the admin API is disabled: set adminToken in the config',
});
const metricsGuard = makeGuard({
  limiter: authFailures, draining: () => ctx.draining, tokens: () => metricsTokens, openWithoutToken: true,
  hint: 'metrics: send Authorization: Bearer <metrics.token>', disabled: '',
});

app.get('/healthz', (res) => exchange(res).json(200, { status: 'ok' }));
app.get('/readyz', (res) => {
  const ex = exchange(res);
  if (ctx.draining) ex.json(503, { status: 'draining' });
  else if (!ledgerHealth.accepting) ex.json(503, { status: 'ledger_unavailable' });
  else ex.json(200, { status: 'ready' });
});

const LEDGER_DOWN = 'this proxy cannot record usage right now (its ledger disk is full or failing), so it does not forward calls; the call was not forwarded or charged, retry later or on another instance';

// Header names as bytes: uWS reads a Buffer as it is, a string only after converting it to UTF-8 (an allocation per call).
const H = {
  idempotencyKey: Buffer.from('idempotency-key'),
  anthropicVersion: Buffer.from('anthropic-version'),
  anthropicBeta: Buffer.from('anthropic-beta'),
  accept: Buffer.from('accept'),
  contentType: Buffer.from('content-type'),
  contentLength: Buffer.from('content-length'),
};

for (const endpoint of Object.keys(ENDPOINTS) as EndpointId[]) {
  app.post(ENDPOINTS[endpoint].path, (res, req) => {
    const ex = exchange(res);
    const breach = checkRequestHead(req, config.limits);
    if (breach) {
      ex.closeConnection = true;
      ex.fail(ENDPOINTS[endpoint].protocol, breach.type, breach.message);
      return;
    }
    // uWS invalidates `req` at the first await: copy what we need now.
    // The identity headers' object, completed in place (no copy of it per call).
    const h = readIdentityHeaders(req) as CallHeaders;
    h.idempotencyKey = req.getHeader(H.idempotencyKey);
    h.anthropicVersion = req.getHeader(H.anthropicVersion);
    h.anthropicBeta = req.getHeader(H.anthropicBeta);
    h.accept = req.getHeader(H.accept);
    h.contentType = req.getHeader(H.contentType);
    const declared = Number(req.getHeader(H.contentLength) || 0);
    const body = readBody(res, config.limits.maxBodyBytes, declared, config.limits.bodyTimeout);
    if (ctx.draining) {
      ex.fail(ENDPOINTS[endpoint].protocol, 'overloaded_error', 'the proxy is shutting down; retry on another instance', undefined, { 'retry-after': '1' });
      return;
    }
    if (!ledgerHealth.accepting) {
      ex.fail(ENDPOINTS[endpoint].protocol, 'ledger_unavailable', LEDGER_DOWN, undefined, { 'retry-after': '5' });
      ctx.metrics.count(endpoint, 503, 'ledger_unavailable');
      return;
    }
    void handleModelCall(ctx, ex, endpoint, h, body);
  });
}

mountModels(app, { ctx, exchange });
mountCountTokens(app, { ctx, exchange });

mountAdmin(app, { ctx, guard: adminGuard, collectStats });
mountClusterAdmin(app, { config, guard: adminGuard, counters: () => cluster?.stats() ?? Promise.resolve(null), decisions: () => collectStats().then((s) => s.decision.count) });
mountBudgetDrift(app, {
  guard: adminGuard,
  // Summing a month of rows can take a while on a big ledger: a generous timeout.
  check: (repair, all) => toMain.request((id) => ({ t: 'budget-drift', id, repair, all }), { timeoutMs: 120_000, what: 'the supervisor (budget drift check)' }),
});
mountWallets(app, {
  config, guard: adminGuard, exchange,
  credit: (request, actor) => toMain.request((id) => ({ t: 'wallet-credit', id, request, actor }), { timeoutMs: 30_000, what: 'the supervisor (wallet credit)' }),
  view: (owner) => toMain.request((id) => ({ t: 'wallet-view', id, owner }), { timeoutMs: 30_000, what: 'the supervisor (wallet)' }),
});
mountControl(app, { ctx, guard: adminGuard, link: controlLink, store: controlStore });
mountProviders(app, { ctx, guard: adminGuard, health: () => routingLink.health(), reload: () => routingLink.reload() });
const monitoring = mountMonitoring(app, { ctx, exchange, shards: data.shards, linkName: `tollgate-monitoring:${data.port}` });
mountDashboard(app, exchange, (msg) => ctx.log('warn', msg));
// Retention runs on shard 0 only: one compactor per ledger, in small batches between calls.
const retention = data.shard === 0
  ? new Retention(ledger, { usageRowsMs: config.retention.usageRows, idempotencyWindowMs: config.idempotencyWindow, everyMs: config.retention.every, batchSize: config.retention.batchSize }, (msg, f) => ctx.log('info', msg, f))
  : undefined;
retention?.start();
mountMetrics(app, { config, guard: metricsGuard, collectText: () => collect('prometheus').then((r) => r.text ?? '') });

app.any('/*', (res, req) => {
  const ex = exchange(res);
  const url = req.getUrl();
  const method = req.getMethod().toUpperCase();
  const known = Object.values(ENDPOINTS).some((e) => e.path === url) || url === '/v1/models' || url.startsWith('/v1/models/') || url === '/v1/messages/count_tokens';
  // Anthropic SDKs call /v1/messages*: answer them in their error shape.
  const protocol = url.startsWith('/v1/messages') ? 'anthropic' : 'openai';
  if (known) ex.fail(protocol, 'method_not_allowed', `${method} is not allowed on ${url}`);
  else ex.fail(protocol, 'not_found_error', `no such endpoint: ${method} ${url.slice(0, 200)}`);
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
  sweepSlowBodies(now);
  closeStalledWrites(now, config.limits.clientStallTimeout);
  if (ledger.commitSamples.length) ctx.metrics.recordCommits(ledger.commitSamples.splice(0));
}, 1000);
sweeper.unref();

async function drain(): Promise<void> {
  if (ctx.draining) return;
  ctx.draining = true;
  stopWatchingPrices();
  if (listenSocket) uws.us_listen_socket_close(listenSocket);
  listenSocket = null;
  const idle = await ctx.whenIdle(config.shutdownGrace);
  if (!idle) {
    // Cancelled calls still settle and record what they used before we close the ledger.
    ctx.log('warn', 'grace period over: cancelling calls in flight', { in_flight: ctx.inFlight });
    ctx.cancelOverdue(Infinity, 'cancelled: shutdown grace period over');
    // Calls still waiting on the supervisor (scope resolution, leases) are refused rather than waited on.
    toMain.close('the proxy is shutting down');
    ledger.stopWaiting('the proxy is shutting down and the ledger still cannot commit this call\'s row; it is held for one last attempt and otherwise logged for recovery');
    closeStalledWrites(Date.now(), 0); // a stream stuck on a client that stopped reading cannot finish either
    await ctx.whenIdle(5_000);
  }
  monitoring.close();
  controlLink.close(); // last_used_at of this shard's keys goes up before the supervisor stops listening
  toMain.close('the proxy is shutting down');
  scopes.close();
  await retention?.stop();
  await ledger.flush();
  // Bounded: a pool still waiting on a stuck upstream request must not keep the process from exiting.
  await Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  const unwritten = await ledger.close();
  await ctx.clusterLedger?.close();
  data.ledgerPort.close(); // the writer has acknowledged every batch: the port must not keep this thread alive
  flushLogger(ctx.logger); // the rows it could not write are in the log: make sure they reach it
  // Closes idle keep-alive connections too: a worker torn down with open uWS
  // sockets aborts the whole process.
  (app as unknown as { close(): void }).close(); // present in the binding, missing from its .d.ts
  // With an OTLP export, the supervisor pushes once more after every shard is gone: it needs their final counts.
  if (ledger.commitSamples.length) ctx.metrics.recordCommits(ledger.commitSamples.splice(0));
  const final = config.otel ? await ctx.metrics.snapshot({ reservationsOpen: ctx.book.size, inFlight: ctx.inFlight }, true).catch(() => undefined) : undefined;
  send({ t: 'drained', shard: data.shard, unwritten, final });
}
