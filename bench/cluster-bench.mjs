// node bench/cluster-bench.mjs [-- --duration 8 --connections 40 --shards 1 --nodes 3 --windows --json]
//
// Many nodes, one budget: what Redis costs the enforcement decision. One
// run, the same load (autocannon, same connections, same body, budgets far
// from their caps) against pairs that differ only in Redis:
//   1. one node, no Redis (the single-node figure) / one node with Redis,
//   2. N independent nodes, no Redis / N nodes sharing budgets through Redis,
//      the connections split between them (same process count, so the CPU
//      contention of N nodes on few cores is in both figures),
// then for each: the decision's latency percentiles the nodes recorded
// (GET /admin/stats, merged hdr-histograms) and, with Redis, the Redis round
// trips per decision and the lease hit rate (GET /admin/cluster).
// --windows adds, on 1 and N nodes, the same with velocity windows
// (rateLimit far from its limit): local windows without Redis, global
// windows (leased from Redis, issue 15.1) with it, and how long the calls
// that had to ask Redis for a window grant waited.
//
// Starts its own redis-server (--save "" --appendonly no) on a free port.
import { spawn, spawnSync, execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { freePort } from './bench-process.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '40' },
    shards: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    windows: { type: 'boolean', default: false },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const shards = Number(values.shards);
const nodeCount = Number(values.nodes);
const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';

function start(cmd, args, readyPattern, opts = {}) {
  const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} did not start:\n${out}`)), 90_000); // a loaded machine
    const on = (d) => {
      out += d;
      const m = readyPattern.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ proc: p, match: m });
      }
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.once('exit', (c) => reject(new Error(`${cmd} exited ${c}:\n${out}`)));
  });
}

const stop = (p) => new Promise((r) => {
  if (p.exitCode !== null) return r();
  p.removeAllListeners('exit');
  p.once('exit', r);
  p.kill('SIGTERM');
});

const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you today?' }], max_tokens: 16 });

function load(url, conns) {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: 'POST', connections: conns, duration, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const admin = (port, path) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());

async function startNode(mockPort, redisUrl, windows) {
  const dir = benchDir('tollgate-cluster-bench-');
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    shards,
    dataDir: join(dir, 'data'),
    ledger: { sync: false },
    adminToken: ADMIN,
    logLevel: 'warn',
    ...(redisUrl ? { redis: redisUrl } : {}),
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month' }] }],
    customers: [{
      id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }, { limit: 1e9, unit: 'requests', period: 'month' }],
      ...(windows ? { rateLimit: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 } } : {}),
    }],
  }));
  const { proc, match } = await start(process.execPath, ['dist/cli.js', 'serve', '--config', config], /tollgate listening on http:\/\/[^:]+:(\d+)/);
  return { proc, port: Number(match[1]) };
}

async function scenario(name, mockPort, redisUrl, n, windows = false) {
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode(mockPort, redisUrl, windows));
  try {
    const per = Math.max(1, Math.round(connections / n));
    const runs = await Promise.all(nodes.map((node) => load(`http://127.0.0.1:${node.port}/v1/chat/completions`, per)));
    const stats = await Promise.all(nodes.map((node) => admin(node.port, '/admin/stats')));
    const cluster = redisUrl ? await Promise.all(nodes.map((node) => admin(node.port, '/admin/cluster'))) : [];
    const decisions = stats.reduce((s, x) => s + x.decision.count, 0);
    const trips = cluster.reduce((s, c) => s + c.redis_round_trips, 0);
    const shortfalls = cluster.reduce((s, c) => s + c.shortfalls, 0);
    return {
      name,
      nodes: n,
      rps: Math.round(runs.reduce((s, r) => s + r.requests.average, 0)),
      p99_ms: Math.max(...runs.map((r) => r.latency.p99)),
      non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
      errors: runs.reduce((s, r) => s + r.errors + r.timeouts, 0),
      decisions,
      // Worst node's percentile: the figure a user of that node sees.
      decision_p50_us: Math.max(...stats.map((s) => s.decision.p50_us)),
      decision_p99_us: Math.max(...stats.map((s) => s.decision.p99_us)),
      decision_p999_us: Math.max(...stats.map((s) => s.decision.p999_us)),
      ...(redisUrl ? {
        redis_round_trips: trips,
        redis_round_trips_per_call: decisions ? trips / decisions : 0,
        shortfalls,
        lease_hit_rate: decisions ? 1 - shortfalls / decisions : 1,
        lease_ops: cluster.map((c) => c.lease_ops),
        ...(windows ? {
          window_grants: cluster.reduce((s, c) => s + c.global.windows.grants, 0),
          window_grant_wait_p99_ms: Math.max(...cluster.map((c) => c.global.windows.grant_wait_ms.p99)),
        } : {}),
      } : {}),
    };
  } finally {
    await Promise.all(nodes.map((node) => stop(node.proc)));
  }
}

const redisBin = process.env.REDIS_SERVER || spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/redis-server';
const redisPort = await freePort();
const mockPort = await freePort();
const { proc: redis } = await start(redisBin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
const { proc: mock } = await start(process.execPath, ['bench/mock-upstream.mjs', '--port', String(mockPort), '--completion-tokens', '16'], /listening/);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const results = [];
try {
  for (const n of nodeCount > 1 ? [1, nodeCount] : [1]) {
    const nodes = n === 1 ? '1 node' : `${n} nodes`;
    results.push(await scenario(`${nodes}, no redis`, mockPort, undefined, n));
    results.push({ ...(await scenario(`${nodes}, redis`, mockPort, redisUrl, n)), baseline: `${nodes}, no redis` });
    if (values.windows) {
      results.push(await scenario(`${nodes}, no redis, local windows`, mockPort, undefined, n, true));
      results.push({ ...(await scenario(`${nodes}, redis, global windows`, mockPort, redisUrl, n, true)), baseline: `${nodes}, no redis, local windows` });
    }
  }
} finally {
  await stop(mock);
  await stop(redis);
}

const commit = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim(); } catch { return 'unknown'; } })();
const conditions = { node: process.version, cpus: cpus().length, shards_per_node: shards, connections, duration_s: duration, commit };
const ratio = (r) => (r.baseline ? r.decision_p99_us / results.find((b) => b.name === r.baseline).decision_p99_us : 1);
const out = { conditions, results, decision_p99_ratio_redis_vs_none: results.filter((r) => r.baseline).map((r) => ({ name: r.name, vs: r.baseline, ratio: ratio(r) })) };
if (values.json) {
  console.log(JSON.stringify(out, null, 2));
} else {
  console.log(`\nconditions: ${Object.entries(conditions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log('(load generator, mock, redis and every node share the same cores; budgets far from their caps)\n');
  console.log('| run | req/s | p99 ms | non-2xx | decisions | decision p50 µs | decision p99 µs | p99 vs same without redis | redis trips/call | lease hit rate | window grants | window grant wait p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const trips = r.redis_round_trips_per_call === undefined ? '–' : r.redis_round_trips_per_call.toFixed(4);
    const hit = r.lease_hit_rate === undefined ? '–' : (r.lease_hit_rate * 100).toFixed(2) + '%';
    console.log(`| ${r.name} | ${r.rps} | ${r.p99_ms} | ${r.non2xx + r.errors} | ${r.decisions} | ${r.decision_p50_us.toFixed(1)} | ${r.decision_p99_us.toFixed(1)} | ${r.baseline ? ratio(r).toFixed(2) + 'x' : '–'} | ${trips} | ${hit} | ${r.window_grants ?? '–'} | ${r.window_grant_wait_p99_ms?.toFixed(2) ?? '–'} |`);
  }
}
