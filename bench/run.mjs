// npm run bench [-- --seconds 10 --connections 50,200 --only stream --base /path/to/other/build --json]
//
// One interleaved run on this machine, for each scenario (bench/scenarios.mjs:
// small chat, long prompt, streamed chat) at each connection count, one cell
// after the other on the same mock upstream:
//   mock      direct to the mock upstream (the ceiling),
//   floor     a bare uWebSockets.js + undici passthrough in 2 worker threads
//             (bench/passthrough.mjs: the floor of a Node proxy, our shards' shape),
//   tollgate  this build (dist/) with the realistic config: a customer with a
//             money budget carrying a threshold, a token budget, a rate limit;
//             ledger on, sync on (--no-sync to turn it off),
//   base      (with --base DIR) another build of Tollgate, e.g. main's, same config:
//             before/after in one run. tollgate and base swap order every cell.
// For each: req/s, p50/p99 latency, CPU ms per request of the server process
// (all threads, /proc/<pid>/stat: the load generator and the mock are not in
// it), the ratios to the floor, errors (socket errors, timeouts, non-2xx), and
// for Tollgate the enforcement decision's latency percentiles and the calls'
// outcomes from /admin/stats. Each Tollgate cell is a fresh process (fresh
// ledger, its own decision histogram). The decision is shown twice: over the
// measured seconds only (the histogram at the end minus the one read after
// warm-up: the steady state, comparable across runs) and over every call
// (warm-up included: the first calls run before V8 has optimised the
// decision, which on a loaded box takes seconds and used to set p99).
//
// Bounded: --seconds (env BENCH_SECONDS, default 10) per measured cell, after
// --warmup (env BENCH_WARMUP, default min(2, seconds)) unmeasured seconds,
// then until the server is quiet (at most 3 s, proc-cpu.mjs settle): the
// warm-up ends with its connections aborted mid-call, and what that sets
// off (a stream's drain, the tokenizer pool's first start) is not the
// measured calls' work.
// --port-base P: the four servers listen on P..P+3 (default 19100).
// --only a,b keeps the cells whose "scenario/connections/target" contains any of them.
// The machine is shared: compare ratios from one run, not absolutes across runs.
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';
import { cpuMs, settle } from './proc-cpu.mjs';
import { SCENARIOS } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '10' },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP },
    connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '50,200' },
    only: { type: 'string', default: process.env.BENCH_ONLY ?? '' },
    shards: { type: 'string', default: '2' },
    base: { type: 'string', default: process.env.BENCH_BASE },
    'port-base': { type: 'string', default: process.env.BENCH_PORT_BASE ?? '19100' },
    'no-sync': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const warmup = values.warmup !== undefined ? Number(values.warmup) : Math.min(2, seconds);
const connectionCounts = values.connections.split(',').map(Number);
const only = values.only.split(',').filter(Boolean);
const shards = Number(values.shards);
const sync = !values['no-sync'];
const root = fileURLToPath(new URL('..', import.meta.url));
const baseRoot = values.base ? resolve(values.base) : undefined;
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';
const log = (s) => process.stderr.write(`${s}\n`);

function load(url, headers, body, connections, duration) {
  return new Promise((res, rej) => {
    autocannon({ url, method: 'POST', connections, duration, headers: { 'content-type': 'application/json', ...headers }, body }, (err, r) => (err ? rej(err) : res(r)));
  });
}

/** The realistic config: budgets on money (with a threshold), tokens and requests, a rate limit, the ledger synced. */
function tollgateConfig(dir, port, mockPort) {
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, JSON.stringify({
    listen: { host: '127.0.0.1', port },
    shards,
    dataDir: join(dir, 'data'),
    ledger: { sync },
    adminToken: ADMIN,
    logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month', thresholds: [{ at: 0.8, action: 'warn' }] }] }],
    customers: [{
      id: 'bench',
      plan: 'pro',
      keys: [KEY],
      budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }],
      rateLimit: { requestsPerMinute: 100_000_000 },
    }],
  }));
  return config;
}

const [mockPort, passPort, tgPort, basePort] = [0, 1, 2, 3].map((i) => Number(values['port-base']) + i);
const mock = await start('bench/mock-upstream.mjs', ['--port', String(mockPort), '--completion-tokens', '19'], /listening/);
const floor = await start('bench/passthrough.mjs', ['--port', String(passPort), '--upstream', `http://127.0.0.1:${mockPort}`, '--threads', String(shards)], /listening/);

/** A fresh Tollgate of the build at `dir` for one cell. */
async function tollgate(dir, port) {
  const config = tollgateConfig(benchDir('tollgate-bench-'), port, mockPort);
  // A loaded machine can take long to start one: the cell waits (its timing starts after).
  return start(join(dir, 'dist/cli.js'), ['serve', '--config', config], /tollgate listening/, 120_000);
}

async function stats(port) {
  const r = await fetch(`http://127.0.0.1:${port}/admin/stats`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return r.json();
}

/** Allowed/refused/... counts from the shards' request counters ("endpoint status decision" → n). */
function outcomes(requests) {
  const out = {};
  for (const [k, n] of Object.entries(requests ?? {})) {
    const [, status, decision] = k.split(' ');
    const key = `${decision} ${status}`;
    out[key] = (out[key] ?? 0) + n;
  }
  return out;
}

/** Decision percentiles (µs) of the calls made after `warm` was read: the end histogram minus the warm one. */
function measuredDecision(end, warm) {
  const h = hdr.decodeFromCompressedBase64(end);
  if (warm) h.subtract(hdr.decodeFromCompressedBase64(warm));
  const us = (p) => h.getValueAtPercentile(p) / 1000;
  return { count: h.totalCount, p50_us: us(50), p99_us: us(99), p999_us: us(99.9), max_us: h.maxValue / 1000 };
}

async function measure(target, scenario, connections) {
  const own = target.fresh ? await target.fresh() : undefined;
  const pid = own?.pid ?? target.proc.pid;
  const url = `http://127.0.0.1:${target.port}/v1/chat/completions`;
  try {
    if (warmup > 0) await load(url, target.headers, scenario.body, connections, warmup);
    await settle(pid);
    const warm = own ? (await stats(target.port)).decisionHistogram : undefined;
    const cpu0 = cpuMs(pid);
    const r = await load(url, target.headers, scenario.body, connections, seconds);
    const cpu1 = cpuMs(pid);
    const total = r.requests.total;
    const out = {
      scenario: scenario.name,
      connections,
      target: target.name,
      rps: Math.round(r.requests.average),
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      cpu_ms_per_req: cpu0 !== null && total ? (cpu1 - cpu0) / total : null,
      errors: r.errors + r.timeouts + r.non2xx,
      requests: total,
    };
    if (own) {
      const s = await stats(target.port);
      out.decision = s.decision;
      out.decision_measured = measuredDecision(s.decisionHistogram, warm);
      out.outcomes = outcomes(s.requests);
    }
    return out;
  } finally {
    if (own) await stop(own);
  }
}

const targets = [
  { name: 'mock', port: mockPort, proc: mock, headers: { authorization: 'Bearer x' } },
  { name: 'floor', port: passPort, proc: floor, headers: { authorization: 'Bearer x' } },
  { name: 'tollgate', port: tgPort, fresh: () => tollgate(root, tgPort), headers: { authorization: `Bearer ${KEY}` } },
  ...(baseRoot ? [{ name: 'base', port: basePort, fresh: () => tollgate(baseRoot, basePort), headers: { authorization: `Bearer ${KEY}` } }] : []),
];
const wanted = (s, c, t) => !only.length || only.some((o) => `${s}/${c}/${t}`.includes(o));

const results = [];
try {
  let cell = 0;
  for (const scenario of SCENARIOS) {
    for (const connections of connectionCounts) {
      // The two Tollgate builds swap places every cell, so neither always runs on a machine the other just heated.
      const order = cell++ % 2 && baseRoot ? [targets[0], targets[1], targets[3], targets[2]] : targets;
      for (const t of order) {
        if (!wanted(scenario.name, connections, t.name)) continue;
        log(`${scenario.name} @${connections} → ${t.name} …`);
        results.push(await measure(t, scenario, connections));
      }
    }
  }
} finally {
  await stop(floor);
  await stop(mock);
}

// Ratios to the floor measured in the same cell.
for (const r of results) {
  const f = results.find((x) => x.scenario === r.scenario && x.connections === r.connections && x.target === 'floor');
  if (!f || r.target === 'floor') continue;
  r.rps_vs_floor = f.rps ? r.rps / f.rps : null;
  r.cpu_vs_floor = f.cpu_ms_per_req && r.cpu_ms_per_req !== null ? r.cpu_ms_per_req / f.cpu_ms_per_req : null;
}

const commit = (dir) => {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
};
const conditions = { node: process.version, cpus: cpus().length, shards, seconds, warmup, ledger_sync: sync, commit: commit(root), ...(baseRoot ? { base: baseRoot } : {}) };

if (values.json) {
  console.log(JSON.stringify({ conditions, results }, null, 2));
} else {
  const n = (v, d = 0) => (v === null || v === undefined ? '–' : v.toFixed(d));
  console.log(`\nconditions: ${Object.entries(conditions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log('(load generator, mock and proxy share the same cores; CPU is the server process only, all threads)\n');
  console.log('| scenario | conns | target | req/s | p50 ms | p99 ms | CPU ms/req | req/s ÷ floor | CPU ÷ floor | errors | decision measured p50/p99/p99.9/max µs | decision all calls p50/p99/p99.9/max µs | outcomes |');
  console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|');
  for (const r of results) {
    const pcts = (x) => (x ? `${n(x.p50_us, 1)} / ${n(x.p99_us, 1)} / ${n(x.p999_us, 1)} / ${n(x.max_us, 0)}` : '');
    const d = `${pcts(r.decision_measured)} | ${pcts(r.decision)}`;
    const o = r.outcomes ? Object.entries(r.outcomes).map(([k, v]) => `${k}: ${v}`).join(', ') : '';
    console.log(`| ${r.scenario} | ${r.connections} | ${r.target} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${n(r.cpu_ms_per_req, 3)} | ${n(r.rps_vs_floor, 2)} | ${n(r.cpu_vs_floor, 2)} | ${r.errors} | ${d} | ${o} |`);
  }
}
