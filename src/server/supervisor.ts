import { AuthFailureLimiter } from '../admin/auth-failure-limiter.js';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
import hdr from 'hdr-histogram-js';
import type { Config } from '../config/schema.js';
import { BudgetTable } from '../budget/budget-table.js';
import { budgetTimeZones } from '../budget/scope-budgets.js';
import { BudgetDrift } from '../store/budget-drift.js';
import { Ledger, isLmdbCommitFailure } from '../store/ledger.js';
import { LedgerHealth } from '../store/ledger-health.js';
import { LedgerProgress } from '../store/ledger-progress.js';
import { startLedgerWriter } from './ledger-writer-host.js';
import { Journal } from '../store/journal.js';
import { JournalWriter } from '../store/journal-writer.js';
import { LedgerWatch } from './ledger-watch.js';
import { SlotRegistry, reservedSlots } from './slot-registry.js';
import { ControlStore } from '../control/control-store.js';
import { ControlPlane, type ShardApply } from '../control/control-plane.js';
import { ChangeFeed } from '../control/change-feed.js';

/** A node polls the change feed this often besides pub/sub: a missed message delays a change by at most this. */
const FEED_POLL_MS = 250;
import type { BudgetRef } from '../budget/budget-ref.js';
import { customerScopeKey } from '../store/aggregates.js';
import { LeaseManager } from '../cluster/lease-manager.js';
import { GlobalState } from '../cluster/global-state.js';
import { RateWindows } from '../policy/rate-windows.js';
import { LoopGuard } from '../policy/loop-guard.js';
import { IdempotencyClaims } from '../proxy/idempotency-claims.js';
import { SessionTable } from '../budget/session-table.js';
import { sessionColumns } from '../budget/session-budgets.js';
import { replaySessions } from './session-replay.js';
import { Alerting } from '../alerts/alerting.js';
import type { MainToShard, ShardToMain } from './messages.js';
import { RoutingControl } from './routing-control.js';
import { ThreadRpc } from './thread-rpc.js';
import { WalletTransactions } from '../store/wallet-transactions.js';
import { noWallet, WalletBook, type BoundWallet, type CreditOutcome, type WalletFailure, type WalletView } from '../wallet/wallet-book.js';

const SNAPSHOT_WAIT_MS = 5_000;
import type { ClusterStats, MetricsSnapshot } from '../proxy/shard-metrics.js';
import type { ShardData } from './shard.js';
import { ProcessMetrics, metricsRegistry } from '../observability/prometheus-text.js';
import { ledgerGauges } from '../observability/ledger-gauges.js';
import { driftGauges } from '../observability/drift-gauges.js';
import { OtelExport } from '../observability/otel-export.js';
import { shipGauges } from '../observability/ship-gauges.js';
import { startShipping } from '../store/pg/cluster-ledger.js';

// The main thread: owns the budget table and slot allocation, starts one
// shard per core on the same port, restarts a shard that dies (returning
// its holds), and drains everything on SIGTERM.

export interface RunningServer {
  port: number;
  shards: number;
  stop(): Promise<void>;
}

/** `rpc`: the supervisor's requests to this shard (metrics snapshots); closed when the shard exits. `final`: its last snapshot, sent with `drained`. */
interface ShardHandle { worker: Worker; ready: boolean; drained: boolean; rpc: ThreadRpc<MainToShard>; final?: MetricsSnapshot }

export interface ServerOptions {
  /** The file the config came from: SIGHUP and POST /admin/reload re-read it. */
  configFile?: string;
}

export async function startServer(config: Config, log: (msg: string) => void = (m) => process.stderr.write(m + '\n'), options: ServerOptions = {}): Promise<RunningServer> {
  const shards = config.shards || availableParallelism();
  // Runtime customers, plans and keys (src/control/): loaded first, since the budget table is sized from them.
  const controlStore = new ControlStore(config.dataDir, config.ledger.sync);
  const appliers: ShardApply[] = [];
  const control = new ControlPlane(config, controlStore, controlStore.load(), () => appliers.filter(Boolean), log);
  let needed = 0;
  for (const c of control.state.catalog.customers()) needed += reservedSlots(config, control.state.catalog, c.id, control.state).budgets;
  const slots = Math.max(config.maxBudgetSlots, needed + config.control.slotHeadroom);
  const table = BudgetTable.create(slots, shards, { leased: !!config.redis });
  // Health cells: the supervisor, each shard, then the ledger writer thread.
  const ledgerHealth = LedgerHealth.create(shards + 2);
  const ledgerProgress = LedgerProgress.create();
  const ledgerLog = (level: string, msg: string, f?: Record<string, unknown>) => log(`${level}: ${msg}${f ? ' ' + JSON.stringify(f) : ''}`);
  const ledger = new Ledger(config.dataDir, config.timezone, config.ledger.sync, config.reports, { zones: budgetTimeZones(config), health: ledgerHealth, progress: ledgerProgress, log: ledgerLog, blockingReads: false });
  // Rows a crash left in the journal (acknowledged, maybe not in LMDB) go into LMDB before anything below reads the ledger.
  await new JournalWriter(ledger, new Journal(config.dataDir, config.ledger.sync, config.ledger.journalSegmentBytes), { log: ledgerLog }).recover();
  // The one writer of usage rows from here on; its thread starts while the shards do.
  const writer = startLedgerWriter(config, ledgerHealth, shards + 1, ledgerProgress, log);
  const windows = RateWindows.create(Math.max(1024, Math.floor(slots / 4)), 60, !!config.redis);
  const loops = LoopGuard.create();
  const claims = IdempotencyClaims.create(config.maxIdempotencyClaims);
  // Session budget counters: allocated only when some plan or customer has sessionBudgets.
  const columns = sessionColumns(config);
  const sessions = SessionTable.create(columns ? config.limits.sessions : 0, columns);
  if (columns) {
    const r = replaySessions(sessions, config, ledger, Date.now(), shards);
    if (r.rows) log(`info: session budgets rebuilt from the ledger: ${r.sessions} sessions, ${r.rows} rows in ${r.ms} ms`);
  }
  const authFailuresSab = AuthFailureLimiter.createBuffer(); // admin/metrics token guesses, counted across shards
  const registry = new SlotRegistry(config, table, ledger, windows, {
    perCustomer: config.limits.dynamicScopesPerCustomer,
    customers: config.limits.dynamicCustomers,
    total: config.limits.dynamicScopes,
    // Never shorter than a hold can live: a settle arriving after its hold expired still charges the slot it names.
    idleMs: Math.max(config.limits.dynamicScopeIdle, config.reservationTtl, config.monitoring.reservationTtl),
  }, () => ledgerHealth.accepting, { catalog: control.state.catalog, offsets: control.state.offsets, keys: control.state });
  control.attach(registry);
  // Many nodes: every node's writes come in order from the Redis change feed; caught up before the shards load the state.
  if (config.redis) await control.useFeed(new ChangeFeed(config.redis, config.cluster.keyPrefix, config.cluster.redisTimeout, log), FEED_POLL_MS, 2 * config.cluster.redisTimeout);
  // Counters against the ledger, on request (GET /admin/budgets/drift).
  const drift = new BudgetDrift({ table, ledger, refs: () => registry.refs, ledgerAccepting: () => ledgerHealth.accepting, rowsKeptMs: config.retention.usageRows });
  // Several nodes, one budget: slot caps become leases from Redis (src/cluster/).
  const leases = config.redis ? await LeaseManager.start(config, table, ledger, log) : undefined;
  // Prepaid wallets: credits in LMDB (and Redis in cluster mode); a wallet is a budget slot of period prepaid.
  const walletStore = new WalletTransactions(config.dataDir, config.ledger.sync);
  const wallets = new WalletBook({
    config, table, ledger, store: walletStore,
    resolveWallet: async (owner): Promise<BoundWallet | WalletFailure> => {
      const key = owner.key_id === undefined ? undefined : control.state.keys.get(owner.key_id);
      if (owner.key_id !== undefined && (!key || key.customer !== owner.customer)) {
        return { ok: false, type: 'not_found_error', message: `customer "${owner.customer.slice(0, 200)}" has no key "${owner.key_id.slice(0, 200)}" (or it was revoked)` };
      }
      const refs = registry.resolveScope(owner.customer, null, Date.now(), key?.key_id ?? null).refs;
      await leases?.adopt(refs);
      const ref = refs.find((r) => r.wallet && r.scope.key === owner.key_id);
      if (!ref) return noWallet(owner);
      return { ok: true, ref, charged: () => (key ? ledger.keyPeriodTotal(owner.customer, key.key_id, key.created_at, 'total', Date.now()) : ledger.aggregate(customerScopeKey(owner.customer), 'total')) };
    },
    remote: leases,
    auditLog: controlStore.audit,
  });
  registry.walletCredited = (ref) => wallets.creditedFor(ref);
  if (leases) {
    // Redis may have come back empty: top-ups it lost are sent again from this node's transactions.
    const resend = () => void wallets.resendToRedis().then(
      (n) => n && log(`info: cluster: re-sent ${n} wallet transactions Redis did not know`),
      (err) => log(`warn: cluster: could not re-send wallet transactions to redis: ${(err as Error)?.message ?? err}`),
    );
    leases.onRedisUp = resend;
    resend();
  }
  // …and velocity windows, idempotency claims, alert claims and lockouts are decided once per cluster (src/cluster/).
  const global = leases ? GlobalState.start(config, leases.redis!, windows, authFailuresSab, leases.nodeId, log) : undefined;
  // Reclaimed slots leave holes (undefined) in refs; every reader skips them.
  const alerting = new Alerting(config, table, () => registry.refs as readonly BudgetRef[], log, global?.alerts);
  alerting.start();
  if (global) global.counters = { leases: () => leases!.snapshot(), alerts: () => alerting.stats };
  // A full disk: stop admitting before commits fail, say so loudly, resume by itself (ledger-watch.ts).
  const ledgerWatch = new LedgerWatch(config.dataDir, config.ledger.minFreeBytes, ledgerHealth, (s) => {
    const free = s.freeBytes === null ? 'unknown' : `${s.freeBytes} bytes free`;
    const detail = s.accepting
      ? `calls are admitted again (${free})`
      : `${s.diskLow ? `free space on ${config.dataDir} is below ledger.minFreeBytes (${free}, minimum ${config.ledger.minFreeBytes})` : `ledger commits are failing (${free})`}; ${s.heldRows} usage rows held in memory`;
    log(`${s.accepting ? 'info' : 'error'}: ledger ${s.accepting ? 'recovered' : 'unavailable'}: ${detail}`);
    alerting.onLedgerHealth(s.accepting, detail);
  });
  await ledgerWatch.tick();
  ledgerWatch.start();
  // The cluster ledger (ledger.postgres): this node's rows shipped behind its commits (src/store/pg/).
  const shipping = startShipping(config, ledger, log);
  // Idle dynamic scopes give their slots back (slot-registry.ts). Cluster mode keeps them: LeaseManager owns their leases.
  const scopeSweep = config.redis ? undefined : setInterval(() => {
    const freed = registry.sweep();
    if (freed) log(`info: released ${freed} idle dynamic scopes (${registry.dynamicScopes} active)`);
  }, 1_000);
  scopeSweep?.unref();
  // The main thread must never die of a stray rejection (it would take every shard with it).
  const onRejection = (err: unknown) => isLmdbCommitFailure(err) || log(`error: unhandled rejection in the supervisor: ${String((err as Error)?.stack ?? err).slice(0, 2000)}`);
  process.on('unhandledRejection', onRejection);
  // Every shard binds the same port; with port 0 we pick one first so they agree.
  const port = config.listen.port || (await freePort(config.listen.host));
  const handles: ShardHandle[] = [];
  const processMetrics = new ProcessMetrics(() => handles.filter((h) => h?.ready && !h.drained).length);
  const ledgerMetrics = ledgerGauges(() => ledgerWatch.state, ledgerProgress);
  const driftMetrics = driftGauges(() => drift.last);
  const shipMetrics = shipping ? [shipGauges(() => shipping.shipper.stats)] : [];
  // Every live shard's snapshot (a drained one's last); one that died or hangs is left out after SNAPSHOT_WAIT_MS instead of stalling the answer.
  const gather = async (detail: boolean): Promise<MetricsSnapshot[]> => {
    const asks = handles.filter((h) => h && (!h.drained || h.final)).map((h) => h.drained ? Promise.resolve(h.final!) :
      h.rpc.request<MetricsSnapshot>((id) => ({ t: 'snapshot-request', id, detail }), { timeoutMs: SNAPSHOT_WAIT_MS, what: 'a shard (metrics snapshot)' }));
    const results = await Promise.allSettled(asks);
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  };
  // The families of /metrics and of the OTLP export: one registry, read as text or as JSON.
  const registryOf = (snapshots: MetricsSnapshot[]) =>
    metricsRegistry(snapshots.flatMap((s) => (s.detail ? [s.detail] : [])), config.metrics.customerSeries, [processMetrics.registry, ledgerMetrics, driftMetrics, ...shipMetrics]);
  let otel: OtelExport | undefined;
  let unwritten = 0;
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const workerUrl = new URL('./shard.js', import.meta.url);
  const routing = new RoutingControl(config, options.configFile, () =>
    handles.flatMap((h, index) => (h && h.ready && !h.drained ? [{ index, post: (m: MainToShard) => h.worker.postMessage(m) }] : [])), log);
  const onHangup = () => void routing.reload();

  const ready = new Promise<void>((resolveReady, rejectReady) => {
    const spawn = (i: number) => {
      const spawnedWith = routing.config;
      const ledgerPort = writer.connect();
      const worker = new Worker(workerUrl, {
        transferList: [ledgerPort],
        workerData: { config: spawnedWith, shard: i, shards, ledgerPort, ledgerProgressSab: ledgerProgress.sab, sab: table.sab, windowsSab: windows.sab, windowBuckets: windows.buckets, loopSab: loops.sab, loopColumns: loops.columns, claimsSab: claims.sab, authFailuresSab, port, ledgerHealthSab: ledgerHealth.sab, scopeGensSab: registry.gensSab, sessionsSab: sessions.sab, sessionCapacity: sessions.capacity, sessionColumns: sessions.budgets, control: control.state.snapshot() } satisfies ShardData,
      });
      const handle: ShardHandle = { worker, ready: false, drained: false, rpc: new ThreadRpc<MainToShard>((m) => worker.postMessage(m)) };
      handles[i] = handle;
      const post = (m: MainToShard) => worker.postMessage(m);
      // Control-plane changes reach this shard from spawn on (queued until it listens); it acknowledges each.
      appliers[i] = (change) => handle.drained ? Promise.resolve() : handle.rpc.request<void>((id) => ({ t: 'control-apply', id, change }), { timeoutMs: 10_000, what: `shard ${i} (control-plane change)` });
      worker.on('message', (m: ShardToMain) => {
        if (global?.onMessage(m, post)) return;
        if (leases?.onMessage(m, post)) return;
        switch (m.t) {
          case 'ready':
            handle.ready = true;
            // A reload that happened while this shard was starting has not reached it yet.
            if (spawnedWith !== routing.config) post({ t: 'routing-reload', routing: routing.config });
            if (handles.every((h) => h?.ready)) resolveReady();
            break;
          case 'listen-failed':
            rejectReady(new Error(m.message));
            break;
          case 'resolve':
            // A new slot is seeded from the ledger: LMDB first catches up with the journal, without blocking this thread.
            void ledger.fresh().then(() => {
              try {
                const { handle, ...scope } = registry.resolveScope(m.customer, m.agent, Date.now(), m.key ?? null);
                // Cluster: the budgets get their first lease (and the other nodes' spend) before a shard decides on them.
                if (leases) void leases.adopt(scope.refs).then(() => post({ t: 'resolved', id: m.id, scope, handle }));
                else post({ t: 'resolved', id: m.id, scope, handle });
              } catch (err) {
                post({ t: 'resolved', id: m.id, error: (err as Error).message, code: (err as { code?: string }).code });
              }
            });
            break;
          case 'collect': {
            const prometheus = m.format === 'prometheus';
            void gather(prometheus).then((snapshots) => {
              const stats = mergeSnapshots(snapshots);
              const reply = (text?: string) => post({ t: 'collected', id: m.id, stats, text });
              if (!prometheus) return reply();
              registryOf(snapshots).metrics()
                .then((text) => reply(text), (err) => { log(`metrics: ${err}`); reply(`# error rendering metrics: ${String(err).replace(/\n/g, ' ')}\n`); });
            });
            break;
          }
          case 'snapshot':
            handle.rpc.reply(m.id, m.data); // late (after SNAPSHOT_WAIT_MS): dropped
            break;
          case 'drained':
            handle.drained = true;
            handle.final = m.final;
            unwritten += m.unwritten ?? 0;
            break;
          case 'policy-event':
            alerting.onPolicyEvent(m).catch((err) => log(`alerting: ${err}`));
            break;
          case 'routing-health-collect':
            routing.gather(i, m.id);
            break;
          case 'routing-health':
            routing.onHealth(m.id, m.shard, m.targets);
            break;
          case 'reload-request':
            post({ t: 'reload-result', id: m.id, outcome: routing.reload() });
            break;
          case 'wallet-credit':
          case 'wallet-view':
            ledger.fresh().then((): Promise<WalletFailure | CreditOutcome | WalletView> => (m.t === 'wallet-credit' ? wallets.credit(m.request, m.actor) : wallets.view(m.owner))).then(
              (outcome) => post({ t: 'wallet-answer', id: m.id, outcome }),
              (err) => post({ t: 'wallet-answer', id: m.id, error: String((err as Error)?.message ?? err) }),
            );
            break;
          case 'control':
            control.handle(m.actor, m.op).then(
              (answer) => post({ t: 'control-answer', id: m.id, answer }),
              (err) => post({ t: 'control-answer', id: m.id, answer: { ok: false, type: 'internal_error', message: `control-plane write failed: ${(err as Error)?.message ?? err}` } }),
            );
            break;
          case 'control-applied':
            handle.rpc.reply(m.id, undefined);
            break;
          case 'keys-used':
            control.touchKeys(m.used);
            break;
          case 'budget-drift':
            ledger.fresh().then(() => drift.check({ repair: m.repair, all: m.all })).then(
              (report) => post({ t: 'budget-drift-report', id: m.id, report }),
              (err) => post({ t: 'budget-drift-report', id: m.id, error: String((err as Error)?.message ?? err) }),
            );
            break;
        }
      });
      worker.on('error', (err) => {
        log(`shard ${i} crashed: ${err.stack ?? err}`);
      });
      worker.on('exit', (code) => {
        handle.rpc.close(`shard ${i} exited`);
        if (stopping || handle.drained) return;
        // Its in-flight calls are gone: return their holds, then replace it.
        table.dropShard(i, registry.used);
        claims.dropShard(i);
        sessions.dropShard(i);
        ledgerHealth.clearThread(i + 1);
        log(`shard ${i} exited (code ${code}); restarting`);
        if (!handle.ready) rejectReady(new Error(`shard ${i} exited during start-up (code ${code})`));
        else spawn(i);
      });
    };
    for (let i = 0; i < shards; i++) spawn(i);
  });

  try {
    await ready;
  } catch (err) {
    stopping = true;
    ledgerWatch.stop();
    process.off('unhandledRejection', onRejection);
    await Promise.allSettled(handles.map((h) => h?.worker.terminate()));
    await alerting.stop();
    await global?.stop();
    await leases?.close();
    await control.close();
    await writer.close();
    await shipping?.stop(0);
    await ledger.close();
    throw err;
  }

  if (options.configFile) process.on('SIGHUP', onHangup);
  if (config.otel) {
    otel = OtelExport.start(config.otel, () => gather(true).then((s) => registryOf(s).getMetricsAsJSON()), log);
    log(`info: exporting metrics over OTLP/HTTP to ${config.otel.endpoint} every ${config.otel.interval}ms`);
  }

  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      clearInterval(scopeSweep);
      ledgerWatch.stop(); // from here the shards' ledgers close: their state is no news for alerts
      process.off('SIGHUP', onHangup);
      const exits = handles.map((h) => new Promise<void>((r) => {
        h.worker.once('exit', () => r());
      }));
      for (const h of handles) h.worker.postMessage({ t: 'drain' } satisfies MainToShard);
      // A shard that drained exits once its event loop is empty; don't wait on stray timers.
      const poll = setInterval(() => {
        for (const h of handles) if (h.drained) void h.worker.terminate();
      }, 50);
      await Promise.all(exits);
      clearInterval(poll);
      // Every call has finished: the last export carries them (the shards' final snapshots), bounded.
      await otel?.shutdown();
      // Every call has settled into the ledger: report the final spend and hand unused leases back.
      await global?.stop();
      await leases?.close();
      processMetrics.stop();
      ledgerWatch.stop();
      await alerting.stop();
      await walletStore.close();
      await control.close();
      unwritten += await writer.close(); // after every shard flushed: it writes everything behind and empties the journal
      // Every row is committed locally: ship what the database takes in a few seconds; the rest ships after the next start.
      await shipping?.stop(3_000);
      unwritten += await ledger.close();
      if (unwritten) log(`error: ${unwritten} usage rows could not be written to the ledger (disk full or write errors); each is in the log as a ledger_unwritten_row JSON line for recovery`);
      process.off('unhandledRejection', onRejection);
    })();
    return stopped;
  };

  return { port, shards, stop };
}

function mergeSnapshots(list: MetricsSnapshot[]): ClusterStats {
  const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  const requests: Record<string, number> = {};
  let unpriced = 0, zero = 0, open = 0, inFlight = 0;
  for (const s of list) {
    merged.add(hdr.decodeFromCompressedBase64(s.decisionHistogram));
    for (const [k, v] of Object.entries(s.requests)) requests[k] = (requests[k] ?? 0) + v;
    unpriced += s.unpricedCalls;
    zero += s.zeroCostCalls;
    open += s.reservationsOpen;
    inFlight += s.inFlight;
  }
  const us = (p: number) => merged.getValueAtPercentile(p) / 1000;
  return {
    decisionHistogram: hdr.encodeIntoCompressedBase64(merged),
    decision: { count: merged.totalCount, p50_us: us(50), p99_us: us(99), p999_us: us(99.9), max_us: merged.maxValue / 1000 },
    requests,
    unpricedCalls: unpriced,
    zeroCostCalls: zero,
    reservationsOpen: open,
    inFlight,
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host === '0.0.0.0' ? '0.0.0.0' : host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
