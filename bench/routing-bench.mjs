// node bench/routing-bench.mjs [--duration 5] [--connections 32] [--shards 2] [--rounds 2] [--stream] [--json]
//
// Does fallback cost anything when the first target is healthy? One
// Tollgate, one healthy mock upstream, and these routes, loaded in turn
// (alternating, `rounds` times each, so drift on a shared machine hits both):
//   1. a route with 1 target,
//   2. a route with 3 targets in 3 tiers (tier 0 healthy: the other two are
//      planned but never called),
//   3. for scale, a route whose tier 0 answers 500 on every call (breaker
//      effectively off), so every call pays one failed attempt + a fallback.
// Needs a build (npm run build). The load generator, the mocks and the
// proxy share the machine's cores; compare rows with each other, not with
// numbers from another machine.
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    shards: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    stream: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const shards = Number(values.shards);
const rounds = Number(values.rounds);
const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';
const mockPort = 19110, failPort = 19111, tgPort = 19310;


function load(model) {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello, how are you today?' }], max_tokens: 16, stream: values.stream });
  return new Promise((resolve, reject) => {
    autocannon({
      url: `http://127.0.0.1:${tgPort}/v1/chat/completions`, method: 'POST', connections, duration,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body,
    }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const RUNS = [
  { model: 'one', name: '1 target' },
  { model: 'three', name: '3 targets, 3 tiers, tier 0 healthy' },
  { model: 'fallback', name: '3 targets, tier 0 answers 500 (every call falls back)' },
];

const mock = await start('bench/mock-upstream.mjs', ['--port', String(mockPort), '--completion-tokens', '16'], /listening/);
const failing = await start('bench/mock-upstream.mjs', ['--port', String(failPort), '--fail', '500'], /listening/);
const dir = benchDir('tollgate-routing-bench-');
const config = join(dir, 'tollgate.yaml');
const provider = (name, port) => ({ name, type: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-bench' });
const neverOpen = { failures: 1_000_000_000, cooldown: '1s' };
writeFileSync(config, JSON.stringify({
  listen: { host: '127.0.0.1', port: tgPort },
  shards,
  dataDir: join(dir, 'data'),
  adminToken: ADMIN,
  logLevel: 'warn',
  providers: [provider('p1', mockPort), provider('p2', mockPort), provider('p3', mockPort), provider('down', failPort)],
  routes: [
    { model: 'one', targets: [{ provider: 'p1', model: 'gpt-4o-mini' }] },
    { model: 'three', targets: [
      { provider: 'p1', model: 'gpt-4o-mini' },
      { provider: 'p2', model: 'gpt-4o-mini', priority: 1 },
      { provider: 'p3', model: 'gpt-4o-mini', priority: 2 },
    ] },
    { model: 'fallback', targets: [
      { provider: 'down', model: 'gpt-4o-mini', breaker: neverOpen },
      { provider: 'p2', model: 'gpt-4o-mini', priority: 1 },
      { provider: 'p3', model: 'gpt-4o-mini', priority: 2 },
    ] },
  ],
  customers: [{ id: 'bench', keys: [KEY], budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month' }] }],
}));

const samples = new Map(RUNS.map((r) => [r.model, []]));
let tg;
try {
  tg = await start('dist/cli.js', ['serve', '--config', config], /tollgate listening/);
  await load('one'); // warm-up: JIT, pools, ledger
  for (let i = 0; i < rounds; i++) {
    for (const run of RUNS) samples.get(run.model).push(await load(run.model));
  }
} finally {
  if (tg) await stop(tg);
  await stop(mock);
  await stop(failing);
}

// The routing decision alone, in process: what a plan costs per call for each route.
const { RouteTable } = await import('../dist/routing/route-table.js');
const { parseConfig } = await import('../dist/config/load-config.js');
const { readFileSync } = await import('node:fs');
const table = new RouteTable(parseConfig(JSON.parse(readFileSync(config, 'utf8')), {}));
const planNs = {};
for (const model of ['one', 'three']) {
  const n = 1_000_000;
  for (let i = 0; i < 100_000; i++) table.plan(model, 'chat', Date.now());
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) table.plan(model, 'chat', 1_000_000);
  planNs[model] = Number(process.hrtime.bigint() - t0) / n;
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const results = RUNS.map((run) => {
  const rs = samples.get(run.model);
  return {
    name: run.name,
    rps: Math.round(mean(rs.map((r) => r.requests.average))),
    p50_ms: mean(rs.map((r) => r.latency.p50)),
    p99_ms: mean(rs.map((r) => r.latency.p99)),
    non2xx: rs.reduce((s, r) => s + r.non2xx, 0),
    errors: rs.reduce((s, r) => s + r.errors + r.timeouts, 0),
  };
});
const commit = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim(); } catch { return 'unknown'; } })();
const conditions = { node: process.version, cpus: cpus().length, shards, connections, duration_s: duration, rounds, stream: values.stream, commit };
const ratio = results[1].rps / results[0].rps;
if (values.json) {
  console.log(JSON.stringify({ conditions, results, three_vs_one: ratio, plan_ns: planNs }, null, 2));
} else {
  console.log(`\nconditions: ${Object.entries(conditions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log('(load generator, mocks and proxy share the same cores; each row is the mean of its rounds)\n');
  console.log('| route | req/s | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.rps} | ${r.p50_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${r.non2xx} | ${r.errors} |`);
  console.log(`\n3-target / 1-target throughput (tier 0 healthy): ${(ratio * 100).toFixed(1)}%`);
  console.log(`route plan per call, in process: 1 target ${planNs.one.toFixed(0)} ns, 3 targets ${planNs.three.toFixed(0)} ns`);
}
