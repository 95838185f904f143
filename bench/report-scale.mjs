#!/usr/bin/env node
// Billing reports and exports at scale (issue 6's measurement).
//
//   node bench/report-scale.mjs [--rows 1000000] [--customers 1000] [--dir DIR] [--keep] [--json]
//
// 1. Writes N usage rows across C customers straight through the Ledger
//    class (the real write path: rows, customer index, aggregates and report
//    indexes in one transaction per batch), spread over one calendar month.
// 2. Times one customer's monthly report (totals, days, by model/agent/tag)
//    in-process and over HTTP against the real server on that data.
// 3. Streams the full CSV export (/admin/usage?format=csv, every row) from
//    the real server and samples the server process's RSS every 50 ms; then
//    the same for the CLI (`tollgate report export`).
// Needs a build (npm run build). Prints its conditions and the numbers.
import { parseArgs } from 'node:util';
import { spawn, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { Ledger } = await import(join(ROOT, 'dist/store/ledger.js'));
const { summaryReport } = await import(join(ROOT, 'dist/admin/reports.js'));

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    customers: { type: 'string', default: '1000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    batch: { type: 'string', default: '50000' },
  },
});
const ROWS = Number(values.rows);
const CUSTOMERS = Number(values.customers);
const BATCH = Number(values.batch);
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'tollgate-report-scale-'));
const dataDir = join(dir, 'data');
const TOKEN = 'bench-admin-token';
const log = (...a) => { if (!values.json) console.log(...a); };

let commit = 'unknown';
try { commit = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim(); } catch { /* not a checkout */ }
log(`report-scale: node ${process.version}, ${cpus().length} cpus, commit ${commit}, ${ROWS.toLocaleString()} rows, ${CUSTOMERS} customers, data ${dataDir}`);

// The month before the current one: complete, and not the month budgets are counting.
const now = new Date();
const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
const MONTH = new Date(monthStart).toISOString().slice(0, 7);
const customerId = (i) => `cust-${String(i).padStart(4, '0')}`;
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-haiku-4-5', 'claude-sonnet-4-5', 'gpt-4.1-nano'];

const results = { node: process.version, commit, rows: ROWS, customers: CUSTOMERS, month: MONTH };

// ---- 1. write ----------------------------------------------------------------
if (!existsSync(join(dataDir, 'tollgate.lmdb'))) {
  const ledger = new Ledger(dataDir, 'UTC', false);
  const t0 = performance.now();
  const span = monthEnd - monthStart;
  let pending = [];
  for (let i = 0; i < ROWS; i++) {
    const ts = monthStart + Math.floor((i / ROWS) * span);
    const c = i % CUSTOMERS;
    const k = Math.floor(i / CUSTOMERS); // varies within one customer's rows
    const blocked = i % 50 === 0;
    const prompt = 200 + (i % 700);
    const completion = blocked ? 0 : 50 + (i % 300);
    const cost = blocked ? 0 : prompt * 150 + completion * 600; // nano-USD, gpt-4o-mini-like
    pending.push(ledger.append({
      request_id: `req_${ts.toString(36).padStart(10, '0')}${i.toString(36).padStart(8, '0')}`,
      ts, customer: customerId(c), agent: `agent-${k % 7}`, tags: { team: `t${k % 5}`, env: k % 3 ? 'prod' : 'dev' },
      endpoint: '/v1/chat/completions', model_requested: MODELS[k % MODELS.length], model: blocked ? null : MODELS[k % MODELS.length],
      provider: 'openai', prompt_tokens: blocked ? 0 : prompt, completion_tokens: completion, cached_tokens: 0, cache_write_tokens: 0,
      cost_nano: cost, billed_nano: Math.round(cost * 1.3), decision: blocked ? 'blocked' : 'allowed', reason: blocked ? 'budget_exceeded' : null,
      status: blocked ? 402 : 200, latency_ms: 100 + (i % 900), idempotency_key: null, price_source: MODELS[k % MODELS.length], usage_source: 'provider',
    }));
    if (pending.length === BATCH) {
      await ledger.flush();
      await Promise.all(pending);
      pending = [];
      if (!values.json && (i + 1) % 100_000 === 0) process.stdout.write(`\r  written ${(i + 1).toLocaleString()} rows`);
    }
  }
  await ledger.flush();
  await Promise.all(pending);
  const secs = (performance.now() - t0) / 1000;
  await ledger.close();
  results.write = { seconds: round(secs, 1), rows_per_second: Math.round(ROWS / secs) };
  log(`\r  wrote ${ROWS.toLocaleString()} rows in ${secs.toFixed(1)} s (${Math.round(ROWS / secs).toLocaleString()} rows/s)`);
} else {
  log('  data directory already populated: reusing it');
}
results.lmdb_file_mb = round(statSync(join(dataDir, 'tollgate.lmdb')).size / 1e6, 1);
log(`  LMDB file: ${results.lmdb_file_mb} MB`);

// ---- 2. monthly report, in-process ----------------------------------------------
{
  const ledger = new Ledger(dataDir, 'UTC', false);
  const range = { from: `${MONTH}-01`, to: new Date(monthEnd - 86_400_000).toISOString().slice(0, 10) };
  const times = [];
  let report;
  for (let i = 0; i < 25; i++) {
    const c = customerId((i * 37) % CUSTOMERS);
    const t0 = performance.now();
    report = summaryReport(ledger.reports, c, range);
    times.push(performance.now() - t0);
  }
  await ledger.close();
  results.report_in_process_ms = stats(times);
  log(`  monthly report, in-process (${report.totals.calls + report.totals.blocked} rows behind it, ${report.by_model.length} models, ${report.by_agent.length} agents, ${report.by_tag.length} tags): ` +
    `first ${times[0].toFixed(2)} ms, p50 ${results.report_in_process_ms.p50} ms, max ${results.report_in_process_ms.max} ms`);
}

// ---- 3. the real server: report over HTTP, full CSV export with RSS sampling -----
const configFile = join(dir, 'tollgate.yaml');
writeFileSync(configFile, `listen: { host: 127.0.0.1, port: 0 }\nshards: 2\ndataDir: ${JSON.stringify(dataDir)}\nadminToken: ${TOKEN}\nlogLevel: warn\nledger: { sync: false }\n`);
const server = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
  server.stderr.on('data', (d) => {
    out += d;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
    if (m) { clearTimeout(timer); resolve(Number(m[1])); }
  });
  server.once('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)));
});
const base = `http://127.0.0.1:${port}`;
const auth = { authorization: `Bearer ${TOKEN}` };
try {
  const times = [];
  const serverTimes = [];
  for (let i = 0; i < 25; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/admin/reports/monthly?customer=${customerId((i * 53) % CUSTOMERS)}&month=${MONTH}`, { headers: auth });
    await r.json();
    times.push(performance.now() - t0);
    serverTimes.push(Number(/dur=([\d.]+)/.exec(r.headers.get('server-timing') ?? '')?.[1] ?? NaN));
  }
  results.report_http_ms = stats(times);
  results.report_server_ms = stats(serverTimes);
  log(`  monthly report over HTTP: p50 ${results.report_http_ms.p50} ms, max ${results.report_http_ms.max} ms (server-side p50 ${results.report_server_ms.p50} ms, max ${results.report_server_ms.max} ms)`);

  const idle = rss(server.pid);
  const sampler = sampleRss(server.pid);
  const readerSampler = sampleRss(() => descendants(server.pid));
  const t0 = performance.now();
  const r = await fetch(`${base}/admin/usage?format=csv`, { headers: auth });
  let bytes = 0;
  let lines = 0;
  for await (const chunk of r.body) {
    bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
  }
  const secs = (performance.now() - t0) / 1000;
  const peak = sampler.stop();
  const reader = readerSampler.stop();
  results.export_http = { rows: lines - 1, mb: round(bytes / 1e6, 1), seconds: round(secs, 1), rows_per_second: Math.round((lines - 1) / secs), rss_idle_mb: idle.rss, ...peak, reader_process: reader };
  log(`  full CSV export over HTTP: ${(lines - 1).toLocaleString()} rows, ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(1)} s; ` +
    `server RSS idle ${idle.rss} MB, peak ${peak.rss_peak_mb} MB (anon ${peak.rss_anon_at_peak_mb} MB + file-backed ${peak.rss_file_at_peak_mb} MB); ` +
    `export reader process RSS peak ${reader.rss_peak_mb} MB (anon ${reader.rss_anon_at_peak_mb} + file ${reader.rss_file_at_peak_mb})`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
}

{
  const cli = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'report', 'export', '--config', configFile, '--out', '/dev/null', '--no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const sampler = sampleRss(cli.pid);
  const t0 = performance.now();
  const code = await new Promise((r) => cli.once('exit', r));
  const peak = sampler.stop();
  const secs = (performance.now() - t0) / 1000;
  results.export_cli = { exit: code, seconds: round(secs, 1), ...peak };
  log(`  full CSV export with the CLI: ${secs.toFixed(1)} s, exit ${code}; RSS peak ${peak.rss_peak_mb} MB (anon ${peak.rss_anon_at_peak_mb} MB + file-backed ${peak.rss_file_at_peak_mb} MB)`);
}

const pass = results.report_in_process_ms.max < 100 && results.report_http_ms.p50 < 100 && results.export_http.rss_peak_mb < 300 && results.export_http.reader_process.rss_peak_mb < 300 && results.export_cli.rss_peak_mb < 300;
results.pass = pass;
log(`  targets: monthly report < 100 ms, export RSS < 300 MB: ${pass ? 'met' : 'NOT met'}`);
if (values.json) console.log(JSON.stringify(results, null, 2));
if (!values.keep && !values.dir) rmSync(dir, { recursive: true, force: true });

// ---- helpers ---------------------------------------------------------------------
function descendants(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) out.push(Number(c), ...descendants(Number(c)));
    }
  } catch { /* gone */ }
  return out;
}
function round(n, d) { return Math.round(n * 10 ** d) / 10 ** d; }
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: round(s[Math.floor(s.length / 2)], 2), max: round(s[s.length - 1], 2), min: round(s[0], 2) };
}
function rss(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0);
    return { rss: round(kb('VmRSS') / 1024, 1), anon: round(kb('RssAnon') / 1024, 1), file: round(kb('RssFile') / 1024, 1) };
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
}
/** Peak RSS of a process (or of the processes a function lists, each on its own). */
function sampleRss(pids) {
  let peak = { rss: 0, anon: 0, file: 0 };
  const t = setInterval(() => {
    for (const pid of typeof pids === 'function' ? pids() : [pids]) {
      const r = rss(pid);
      if (r.rss > peak.rss) peak = r;
    }
  }, 50);
  return { stop() { clearInterval(t); return { rss_peak_mb: peak.rss, rss_anon_at_peak_mb: peak.anon, rss_file_at_peak_mb: peak.file }; } };
}
