// npm run bench:threads [-- --seconds 6 --warmup 2 --connections 50 --scenario small --base /path/to/other/build
//                          --rate 1000 --rounds 2 --together --node-args=--v8-flag --port-base 19100]
//
// Where a Tollgate process spends its CPU, per thread, under one bounded
// autocannon load: utime + stime of every /proc/<pid>/task/<tid>/stat before
// and after, grouped by thread, divided by the requests served. Node 20
// names none of its threads (all "node"): a preload (NODE_OPTIONS --require)
// in every JS thread writes its tid and role (main, ledger, shard N) to a
// file; the threads that exist when the main thread's preload runs are V8's
// platform workers ("v8": GC helpers and the optimizing compiler); unnamed
// threads created later are libuv's pool ("libuv").
//
// The floor (bench/passthrough.mjs) runs first for scale; with --base, the
// other build runs the same load after this one (the order swaps each
// round). CPU per request falls as throughput rises (more requests per
// wakeup and syscall), so --rate (a fixed offered load) compares builds
// better than an open throttle; on a machine others load too, --together
// runs both builds at once, each under its own --rate, so both see the same
// neighbours. A fresh process's first seconds are mostly JIT work (the "v8"
// group): --warmup decides how much of it is measured. After the warm-up the
// server is let settle (proc-cpu.mjs settle), as in bench/run.mjs.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { buckets, series, sum } from './prom-text.mjs';
import { settle } from './proc-cpu.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    scenario: { type: 'string', default: 'small' },
    base: { type: 'string' },
    'port-base': { type: 'string', default: '19100' },
    rounds: { type: 'string', default: '1' },
    // A fixed offered load (req/s over all connections): builds compared at the same rate batch alike.
    rate: { type: 'string' },
    // Extra node arguments for this build only (e.g. V8 flags to try): --node-args=--flag,--other.
    'node-args': { type: 'string', default: '' },
    // Run this build and --base at the same time, each under its own --rate: on a loaded machine both see the same load.
    together: { type: 'boolean', default: false },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';
const TICK_US = 10_000; // CLK_TCK 100
const scenario = SCENARIOS.find((s) => s.name === values.scenario);
const connections = Number(values.connections);

function threads(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
      out.set(Number(tid), { comm, us: (Number(f[11]) + Number(f[12])) * TICK_US, sys: Number(f[12]) * TICK_US });
    } catch { /* the thread ended */ }
  }
  return out;
}

const tags = benchDir('thread-tags-');
const PRELOAD = join(tags, 'tag-thread.cjs');
writeFileSync(PRELOAD, `
const fs = require('node:fs');
const wt = require('node:worker_threads');
const [pid, , tid] = fs.readlinkSync('/proc/thread-self').split('/');
const d = wt.workerData;
const role = wt.isMainThread ? 'main' : d && d.shard !== undefined ? 'shard ' + d.shard : d && d.healthSab ? 'ledger' : d && d.upstream ? 'shard ' + wt.threadId : 'worker ' + wt.threadId;
let lines = tid + ' ' + role + '\\n';
if (wt.isMainThread) for (const t of fs.readdirSync('/proc/self/task')) if (t !== tid) lines += t + ' v8\\n';
fs.appendFileSync(${JSON.stringify(tags)} + '/' + pid, lines);
`);

/** Thread groups: JS threads and V8's by their tag, other unnamed threads are libuv's pool. */
function label(pid, tid, comm) {
  const file = join(tags, String(pid));
  const tagged = existsSync(file) ? new Map(readFileSync(file, 'latin1').trim().split('\n').map((l) => { const [t, ...r] = l.split(' '); return [Number(t), r.join(' ')]; })) : new Map();
  return tagged.get(tid) ?? (comm === 'node' ? 'libuv' : comm);
}

const load = (url, headers, duration) => new Promise((res, rej) => {
  autocannon({ url, method: 'POST', connections, duration, ...(values.rate ? { overallRate: Number(values.rate) } : {}), headers: { 'content-type': 'application/json', ...headers }, body: scenario.body }, (err, r) => (err ? rej(err) : res(r)));
});

async function measure(name, pid, port, headers) {
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  await load(url, headers, Number(values.warmup));
  await settle(pid);
  const la = await ledgerCounters(port); // before the CPU snapshot: the scrape's own work is not measured
  const a = threads(pid);
  const r = await load(url, headers, Number(values.seconds));
  const b = threads(pid);
  report(name, pid, a, b, r);
  reportLedger(name, la, await ledgerCounters(port), Number(values.seconds));
}

// The ledger writer's own counters (/metrics) over the measured seconds: the
// journal's group commits (rows per commit, append + fdatasync time per
// commit), what a shard's batch waited to be durable (the client waits it),
// and the LMDB write-behind.
const LEDGER_SERIES = {
  jc: 'tollgate_ledger_journal_commits_total', jr: 'tollgate_ledger_journal_rows_total', js: 'tollgate_ledger_journal_sync_seconds_total',
  lc: 'tollgate_ledger_lmdb_commits_total', lr: 'tollgate_ledger_lmdb_rows_total', ls: 'tollgate_ledger_lmdb_commit_seconds_total',
};
async function ledgerCounters(port) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    if (!series(text, LEDGER_SERIES.jc).length) return undefined; // the floor: no ledger
    // The commit-wait histogram, summed over shards: cumulative count per upper bound.
    const out = { buckets: buckets(text, 'tollgate_ledger_commit_seconds') };
    for (const [k, name] of Object.entries(LEDGER_SERIES)) out[k] = sum(text, name);
    return out;
  } catch {
    return undefined;
  }
}
function reportLedger(name, a, b, seconds) {
  if (!a || !b) return;
  const d = (k) => b[k] - a[k];
  const bounds = [...b.buckets.keys()].sort((x, y) => (x === '+Inf' ? 1 : y === '+Inf' ? -1 : Number(x) - Number(y)));
  const counts = bounds.map((le) => b.buckets.get(le) - (a.buckets.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const q = (p) => {
    const i = counts.findIndex((c) => c >= p * total);
    return i < 0 ? '?' : bounds[i] === '+Inf' ? '>max' : `<=${Math.round(Number(bounds[i]) * 1e6)}`;
  };
  console.log(`${''.padEnd(9)} ledger: ${Math.round(d('jc') / seconds)} journal commits/s, ${(d('jr') / d('jc')).toFixed(1)} rows/commit, ${Math.round((d('js') * 1e6) / d('jc'))} us append+sync/commit; batch wait p50 ${q(0.5)} p99 ${q(0.99)} us; lmdb ${Math.round(d('lc') / seconds)} commits/s, ${Math.round(d('lr') / d('lc'))} rows, ${Math.round((d('ls') * 1e6) / d('lc'))} us each`);
}

function report(name, pid, a, b, r) {
  const groups = {};
  const kernel = {};
  let sys = 0;
  for (const [tid, t] of b) {
    const d = t.us - (a.get(tid)?.us ?? 0);
    const k = t.sys - (a.get(tid)?.sys ?? 0);
    sys += k;
    const g = label(pid, tid, t.comm);
    groups[g] = (groups[g] ?? 0) + d;
    kernel[g] = (kernel[g] ?? 0) + k;
  }
  const n = r.requests.total;
  const per = Object.fromEntries(Object.entries(groups).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, `${Math.round(v / n)}${kernel[k] ? `(k${Math.round(kernel[k] / n)})` : ''}`]));
  const total = Object.values(groups).reduce((s, v) => s + v, 0);
  console.log(`${name.padEnd(9)} ${String(Math.round(r.requests.average)).padStart(6)} req/s  errors ${r.errors + r.timeouts + r.non2xx}  total ${Math.round(total / n)} us/req (kernel ${Math.round(sys / n)})  ${JSON.stringify(per)}`);
}

function tollgateConfig(dir, port, mockPort) {
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, JSON.stringify({
    listen: { host: '127.0.0.1', port },
    shards: 2,
    dataDir: join(dir, 'data'),
    ledger: { sync: true },
    adminToken: ADMIN,
    logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month', thresholds: [{ at: 0.8, action: 'warn' }] }] }],
    customers: [{ id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }], rateLimit: { requestsPerMinute: 100_000_000 } }],
  }));
  return config;
}

const pb = Number(values['port-base']);
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`;
const mock = await start('bench/mock-upstream.mjs', ['--port', String(pb), '--completion-tokens', '19'], /listening/);
const floor = await start('bench/passthrough.mjs', ['--port', String(pb + 1), '--upstream', `http://127.0.0.1:${pb}`, '--threads', '2'], /listening/);
// A failed start (or any throw) must not leave the mock and the floor listening.
process.once('exit', () => { mock.kill(); floor.kill(); });
console.log(`${scenario.name}/${connections}, ${values.seconds} s, loadavg ${readFileSync('/proc/loadavg', 'latin1').trim()}`);
const builds = [['this', root], ...(values.base ? [['base', resolve(values.base)]] : [])];
const startBuild = (name, dir, port) => {
  const config = tollgateConfig(benchDir('tollgate-threads-'), port, pb);
  const argv = [...(name === 'this' ? values['node-args'].split(',').filter(Boolean) : []), join(dir, 'dist/cli.js'), 'serve', '--config', config];
  return start(argv[0], argv.slice(1), /tollgate listening/, 120_000);
};
if (values.together) {
  const procs = await Promise.all(builds.map(([name, dir], i) => startBuild(name, dir, pb + 2 + i)));
  const headers = { authorization: `Bearer ${KEY}` };
  const url = (i) => `http://127.0.0.1:${pb + 2 + i}/v1/chat/completions`;
  for (let round = 0; round < Number(values.rounds); round++) {
    await Promise.all(builds.map((_, i) => load(url(i), headers, Number(values.warmup))));
    await Promise.all(procs.map((p) => settle(p.pid)));
    const ledgerBefore = await Promise.all(builds.map((_, i) => ledgerCounters(pb + 2 + i)));
    const before = procs.map((p) => threads(p.pid));
    const results = await Promise.all(builds.map((_, i) => load(url(i), headers, Number(values.seconds))));
    const after = procs.map((p) => threads(p.pid));
    const ledgerAfter = await Promise.all(builds.map((_, i) => ledgerCounters(pb + 2 + i)));
    builds.forEach(([name], i) => {
      report(name, procs[i].pid, before[i], after[i], results[i]);
      reportLedger(name, ledgerBefore[i], ledgerAfter[i], Number(values.seconds));
    });
  }
  await Promise.all(procs.map(stop));
  await stop(floor);
  await stop(mock);
  process.exit(0);
}
for (let round = 0; round < Number(values.rounds); round++) {
  await measure('floor', floor.pid, pb + 1, {});
  for (const [name, dir] of round % 2 ? [...builds].reverse() : builds) {
    const p = await startBuild(name, dir, pb + 2);
    try {
      await measure(name, p.pid, pb + 2, { authorization: `Bearer ${KEY}` });
    } finally {
      await stop(p);
    }
  }
}
await stop(floor);
await stop(mock);
