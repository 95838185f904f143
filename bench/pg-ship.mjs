#!/usr/bin/env node
// Shipping to the cluster ledger (ledger.postgres): throughput and lag.
//
//   node bench/pg-ship.mjs [--backlog 200000] [--batches 500,2000,5000] [--rates 1000,4000] [--seconds 10] [--json]
//
// Starts its own PostgreSQL (bench/postgres-server.mjs; fsync off, as the
// tests) and uses the real classes from dist/ (npm run build first):
// 1. Backlog: N rows already committed in a node's LMDB ledger (a node that
//    was cut off from the database) are shipped by a LedgerShipper into an
//    empty database, once per batch size: rows/s until lag is 0.
// 2. Lag under load: a worker thread appends rows at R rows/s for S seconds
//    (the shards' side) while the main thread ships (batch 2000, poll every
//    200 ms, as configured by default); the shipper's lag in rows and in
//    seconds (now minus the newest shipped row's time) is sampled every 100 ms.
// 3. Restart: a new shipper over the same cursor learns the sweep window's
//    shipped ids from the database; how long until it is idle, rows re-sent.
import { parseArgs } from 'node:util';
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { benchDir } from './bench-dir.mjs';
import { startPostgres } from './postgres-server.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { Ledger } = await import(join(ROOT, 'dist/store/ledger.js'));
const { PgLedger } = await import(join(ROOT, 'dist/store/pg/pg-ledger.js'));
const { LedgerShipper } = await import(join(ROOT, 'dist/store/pg/ledger-shipper.js'));
const { ShipCursor } = await import(join(ROOT, 'dist/store/pg/ship-cursor.js'));

const { values } = parseArgs({
  options: {
    backlog: { type: 'string', default: '200000' },
    batches: { type: 'string', default: '500,2000,5000' },
    rates: { type: 'string', default: '1000,4000' },
    seconds: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const BACKLOG = Number(values.backlog);
const T0 = Date.parse('2031-06-01T00:00:00Z');

/** A row like a chat call's, with tags and an agent (the report aggregates have work to do). */
const row = (i, ts) => ({
  request_id: `req_${String(i).padStart(10, '0')}`, ts, customer: `cust-${i % 1000}`, agent: `agent-${i % 7}`,
  tags: { team: `t${i % 5}` }, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini', provider: 'openai',
  prompt_tokens: 400, completion_tokens: 120, cached_tokens: 0, cache_write_tokens: 0, cost_nano: 132_000, billed_nano: 158_400,
  decision: 'allowed', reason: null, status: 200, latency_ms: 812, idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
});

const server = await startPostgres();
const admin = new pg.Pool({ connectionString: server.url, max: 1 });
const pgVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
const reset = () => admin.query('DROP TABLE IF EXISTS tollgate_usage, tollgate_report_days, tollgate_report_customers, tollgate_meta, tollgate_migrations CASCADE');

function shipperFor(dir, ledger, batchRows, now) {
  const db = new PgLedger({ url: server.url, timeZone: 'UTC', node: 'bench', poolSize: 1 });
  const cursor = new ShipCursor(dir);
  const shipper = new LedgerShipper(ledger, db, cursor, { batchRows, intervalMs: 200, lookbackMs: 15 * 60_000, sweepMs: 5_000, maxBackoffMs: 1_000, now });
  return { shipper, close: async () => { await shipper.stop(); await db.close(); await cursor.close(); } };
}

/** CPU ms the database server has used so far: the postmaster, its finished children and its live backends (Linux /proc). */
function pgCpuMs() {
  try {
    const pid = readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0].trim();
    const fields = (p) => readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    const own = fields(pid);
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const f = fields(p);
        if (f[1] === pid) ticks += Number(f[11]) + Number(f[12]);
      } catch { /* gone */ }
    }
    return ticks * 10; // 100 ticks a second
  } catch {
    return NaN;
  }
}
const ownCpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

async function drain(shipper) {
  for (;;) if ((await shipper.step()) === 'idle' && shipper.stats.lagRows === 0) return;
}

/** The shards' side: appends `rate` rows a second (ts = now) for `seconds`, in 10 ms ticks; posts how many it wrote. */
const WRITER = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { Ledger } = await import(workerData.ledgerUrl);
  const row = eval(workerData.rowSource);
  const ledger = new Ledger(workerData.dir, 'UTC', false);
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < workerData.seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * workerData.rate);
    const batch = [];
    for (; n < due; n++) batch.push(ledger.append(row(n, Date.now())));
    await Promise.all(batch);
    await new Promise((r) => setTimeout(r, 10));
  }
  await ledger.close();
  parentPort.postMessage(n);
})();
`;

const results = { backlog: [], load: [], restart: null };

// 1. Backlog.
const backlogDir = benchDir('tg-pgship-');
{
  const ledger = new Ledger(backlogDir, 'UTC', false);
  const step = 1000;
  for (let i = 0; i < BACKLOG; i += step) await Promise.all(Array.from({ length: Math.min(step, BACKLOG - i) }, (_, j) => ledger.append(row(i + j, T0 + (i + j) * 10))));
  for (const batch of values.batches.split(',').map(Number)) {
    await reset();
    const dir = benchDir('tg-pgship-cursor-');
    const { shipper, close } = shipperFor(dir, ledger, batch, () => Date.now() + 1e12);
    const t = performance.now();
    const cpu0 = [ownCpuMs(), pgCpuMs()];
    await drain(shipper);
    const s = (performance.now() - t) / 1000;
    const cpu = [ownCpuMs() - cpu0[0], pgCpuMs() - cpu0[1]];
    const rows = Number((await admin.query('SELECT count(*) AS n FROM tollgate_usage')).rows[0].n);
    results.backlog.push({
      batch, rows, seconds: +s.toFixed(2), rowsPerSec: Math.round(rows / s),
      // CPU per row is what the machine's load does not distort: rows/s on one free core for each side.
      cpuUsPerRow: { shipper: +((cpu[0] * 1000) / rows).toFixed(1), postgres: +((cpu[1] * 1000) / rows).toFixed(1) },
    });
    await close();
  }
  // 3. Restart: the last cursor stays, the memory of shipped ids is gone (refilled from the database).
  const dir = benchDir('tg-pgship-cursor-');
  const first = shipperFor(dir, ledger, 2000, () => T0 + BACKLOG * 10);
  await drain(first.shipper);
  await first.close();
  const again = shipperFor(dir, ledger, 2000, () => T0 + BACKLOG * 10);
  const t = performance.now();
  await drain(again.shipper);
  results.restart = { windowRows: again.shipper.stats.duplicates, inserted: again.shipper.stats.shipped, seconds: +((performance.now() - t) / 1000).toFixed(2) };
  await again.close();
  await ledger.close();
}

// 2. Lag under load.
for (const rate of values.rates.split(',').map(Number)) {
  await reset();
  const dir = benchDir('tg-pgship-load-');
  const ledger = new Ledger(dir, 'UTC', false);
  const { shipper, close } = shipperFor(dir, ledger, 2000, Date.now);
  shipper.start();
  const seconds = Number(values.seconds);
  const writer = new Worker(WRITER, { eval: true, workerData: { dir, rate, seconds, ledgerUrl: pathToFileURL(join(ROOT, 'dist/store/ledger.js')).href, rowSource: row.toString() } });
  const samples = [];
  const sampler = setInterval(() => {
    samples.push({ rows: shipper.stats.lagRows });
  }, 100);
  const written = await new Promise((r) => writer.once('message', r));
  clearInterval(sampler);
  const t = performance.now();
  while (shipper.stats.shipped < written) await new Promise((r) => setTimeout(r, 20));
  const catchUpMs = performance.now() - t;
  const lagRows = samples.map((s) => s.rows).sort((a, b) => a - b);
  const pct = (p) => lagRows[Math.min(lagRows.length - 1, Math.floor(p * lagRows.length))];
  const seenAt = (await admin.query("SELECT extract(epoch FROM max(shipped_at - ts)) * 1000 AS max, extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY shipped_at - ts)) * 1000 AS p99, extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY shipped_at - ts)) * 1000 AS p50 FROM tollgate_usage")).rows[0];
  results.load.push({
    rate, seconds, written, shipped: shipper.stats.shipped, batches: shipper.stats.batches,
    lagRows: { p50: pct(0.5), p99: pct(0.99), max: lagRows[lagRows.length - 1] },
    rowToDatabaseMs: { p50: Math.round(seenAt.p50), p99: Math.round(seenAt.p99), max: Math.round(seenAt.max) },
    catchUpAfterLoadMs: Math.round(catchUpMs),
  });
  await close();
  await ledger.close();
}

const conditions = {
  node: process.version, postgres: pgVersion, cpus: cpus().length, cpu: cpus()[0]?.model,
  commit: (() => { try { return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim(); } catch { return null; } })(),
  fsync: 'off (as the tests)', backlog: BACKLOG, loadAverage: loadavg().map((x) => +x.toFixed(1)),
};
if (values.json) console.log(JSON.stringify({ conditions, ...results }, null, 2));
else {
  console.log(`conditions: ${JSON.stringify(conditions)}`);
  for (const b of results.backlog) console.log(`backlog ${b.rows} rows, batch ${b.batch}: ${b.seconds} s, ${b.rowsPerSec} rows/s; CPU per row: shipper ${b.cpuUsPerRow.shipper} µs, PostgreSQL ${b.cpuUsPerRow.postgres} µs`);
  console.log(`restart: caught up in ${results.restart.seconds} s (${results.restart.windowRows} rows re-sent, ${results.restart.inserted} inserted; the window's ids come from the database)`);
  for (const l of results.load) {
    console.log(`load ${l.rate} rows/s for ${l.seconds} s: ${l.written} written, ${l.shipped} shipped in ${l.batches} batches; lag rows p50 ${l.lagRows.p50} p99 ${l.lagRows.p99} max ${l.lagRows.max}; commit→database p50 ${l.rowToDatabaseMs.p50} ms p99 ${l.rowToDatabaseMs.p99} ms max ${l.rowToDatabaseMs.max} ms; caught up ${l.catchUpAfterLoadMs} ms after the load stopped`);
  }
}
await admin.end();
await server.destroy();
process.exit(0);
