#!/usr/bin/env node
// Control plane at scale (issue 13): CUSTOMERS customers and 2 keys each,
// created through the admin API (bounded concurrency), then model calls
// spread over random keys to measure the decision p99 (GET /admin/stats, the
// shards' merged histogram), the process RSS per customer, and the start-up
// time with that state stored.
//
//   npm run build && node bench/control-plane-scale.mjs            # 100,000 customers, 200,000 keys
//   CUSTOMERS=10000 CALLS=5000 node bench/control-plane-scale.mjs  # a smaller run
//
// Output: one JSON object. Everything runs on 127.0.0.1; every phase is bounded.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { startMockUpstream } from './mock-upstream.mjs';
import { start, stop } from './bench-process.mjs';
import { benchDir } from './bench-dir.mjs';

const CUSTOMERS = Number(process.env.CUSTOMERS ?? 100_000);
const KEYS_PER = 2;
const CALLS = Number(process.env.CALLS ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const SHARDS = Number(process.env.SHARDS ?? 2);
const PHASE_LIMIT_MS = Number(process.env.PHASE_LIMIT_MS ?? 900_000);
const TOKEN = 'bench-admin-token-0123456789';

const mock = await startMockUpstream({ completionTokens: 8 });
const dir = benchDir('tollgate-cp-scale-');
const configFile = join(dir, 'tollgate.yaml');
writeFileSync(configFile, stringify({
  listen: { host: '127.0.0.1', port: 0 }, shards: SHARDS, dataDir: join(dir, 'data'), adminToken: TOKEN, logLevel: 'warn',
  // One plan budget and one customer budget each: 2 slots per customer.
  maxBudgetSlots: 2 * CUSTOMERS + 65_536,
  providers: [{ name: 'openai', type: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-bench' }],
}));

const launch = async () => {
  const t0 = performance.now();
  let port = 0;
  // Start-up with 100k customers stored is what is measured: allow it minutes on a loaded machine.
  const p = await start('dist/cli.js', ['serve', '--config', configFile], /tollgate listening on http:\/\/[^:]+:(\d+)/, 600_000);
  p.stderr.on('data', () => {});
  p.stdout.on('data', () => {});
  const ms = performance.now() - t0;
  // The port is in the line the process printed; ask the OS instead of keeping its output.
  port = await portOf(p.pid);
  return { p, port, ms };
};

/** The listening port of a process, from /proc/net/tcp (its sockets' inodes). */
async function portOf(pid) {
  const { readdirSync, readlinkSync } = await import('node:fs');
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':')[1], 16);
  }
  throw new Error('no listening socket found');
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Runs `count` tasks with CONCURRENCY at once; fails the bench past PHASE_LIMIT_MS. */
async function pooled(count, task, what) {
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  let firstError = '';
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failed++;
        firstError ||= String(err.message ?? err).slice(0, 300);
      }
      if (performance.now() - t0 > PHASE_LIMIT_MS) throw new Error(`${what}: over ${PHASE_LIMIT_MS} ms after ${i} of ${count}`);
    }
  }));
  const ms = performance.now() - t0;
  const r = { count, failed, firstError: firstError || undefined, ms: Math.round(ms), per_s: Math.round(count / (ms / 1000)) };
  console.error(`${what}: ${JSON.stringify(r)}`); // progress, so a later failure does not lose the figures
  return r;
}

let node = await launch();
const emptyStartMs = node.ms;
let pool = new Pool(`http://127.0.0.1:${node.port}`, { connections: CONCURRENCY, pipelining: 1 });
const adminCall = async (method, path, body, expect) => {
  const r = await pool.request({ method, path, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  if (r.statusCode !== expect) throw new Error(`${method} ${path}: ${r.statusCode} ${text}`);
  return JSON.parse(text);
};

const rssEmpty = rssMb(node.p.pid);
await adminCall('PUT', '/admin/plans/bench', { budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }, 201);
const id = (i) => `cust-${String(i).padStart(7, '0')}`;
const customers = await pooled(CUSTOMERS, (i) => adminCall('POST', '/admin/customers', { id: id(i), plan: 'bench', budgets: [{ limit: 50, unit: 'USD', period: 'month' }], metadata: { cohort: String(i % 10) } }, 201), 'customers');
const keys = new Array(CUSTOMERS * KEYS_PER);
const keyWrites = await pooled(CUSTOMERS * KEYS_PER, async (i) => {
  const r = await adminCall('POST', `/admin/customers/${id(i % CUSTOMERS)}/keys`, { name: `k${i}` }, 201);
  keys[i] = r.key;
}, 'keys');
const rssLoaded = rssMb(node.p.pid);
console.error(`rss: empty ${rssEmpty} MB, loaded ${rssLoaded} MB`);
const control = await adminCall('GET', '/admin/control', undefined, 200);

// Calls over random keys: each first call of a customer resolves its scope (binds its slots) on the supervisor.
const statsBefore = await adminCall('GET', '/admin/stats', undefined, 200);
const calls = await pooled(CALLS, async (i) => {
  const key = keys[(i * 7919) % keys.length];
  const r = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }) });
  await r.body.text();
  if (r.statusCode !== 200) throw new Error(`call ${r.statusCode}`);
}, 'calls');
const stats = await adminCall('GET', '/admin/stats', undefined, 200);
console.error(`decision: ${JSON.stringify(stats.decision)}`);
const rssServing = rssMb(node.p.pid);
const sample = await adminCall('GET', `/admin/customers?prefix=cust-00000&metadata.cohort=3&limit=5`, undefined, 200);

await pool.close();
await stop(node.p);
node = await launch();
pool = new Pool(`http://127.0.0.1:${node.port}`, { connections: 4 });
const afterRestart = await adminCall('GET', '/admin/control', undefined, 200);
const rssRestarted = rssMb(node.p.pid);
const probe = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${keys[keys.length - 1]}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }) });
await probe.body.text();
await pool.close();
await stop(node.p);
await mock.close();

const round = (n, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
console.log(JSON.stringify({
  customers: CUSTOMERS, keys: CUSTOMERS * KEYS_PER, shards: SHARDS, concurrency: CONCURRENCY,
  create_customers: customers, create_keys: keyWrites,
  state: control, after_restart: afterRestart, probe_after_restart: probe.statusCode,
  list_sample: sample.customers.map((c) => c.id),
  calls, decision_us: stats.decision, decisions_before_calls: statsBefore.decision.count,
  rss_mb: { empty: round(rssEmpty), loaded: round(rssLoaded), serving: round(rssServing), restarted: round(rssRestarted) },
  rss_bytes_per_customer: Math.round(((rssLoaded - rssEmpty) * 1024 * 1024) / CUSTOMERS),
  rss_bytes_per_customer_after_restart: Math.round(((rssRestarted - rssEmpty) * 1024 * 1024) / CUSTOMERS),
  startup_ms: { empty: round(emptyStartMs, 0), with_state: round(node.ms, 0) },
}, null, 2));
process.exit(0);
