// npm run bench [-- --duration 10 --connections 50 --shards 2 --json]
//
// One run, side by side on this machine:
//   1. direct to the mock upstream (the ceiling),
//   2. a bare uWebSockets.js + undici passthrough (the floor of a Node proxy),
//   3. Tollgate with budgets and the ledger on,
// then the enforcement decision's latency percentiles that Tollgate recorded
// during its own run (hdr-histogram, merged across shards).
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
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    shards: { type: 'string', default: '2' },
    stream: { type: 'boolean', default: false },
    'no-sync': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const shards = Number(values.shards);
const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';


const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you today?' }], max_tokens: 16, stream: values.stream });

function load(url, headers) {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: 'POST', connections, duration, headers: { 'content-type': 'application/json', ...headers }, body }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const summary = (name, r) => ({
  name,
  rps: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
});

const mockPort = 19100, passPort = 19200, tgPort = 19300;
const mock = await start('bench/mock-upstream.mjs', ['--port', String(mockPort), '--completion-tokens', '16'], /listening/);
const results = [];
try {
  results.push(summary('direct to mock upstream', await load(`http://127.0.0.1:${mockPort}/v1/chat/completions`, { authorization: 'Bearer x' })));

  const pass = await start('bench/passthrough.mjs', ['--port', String(passPort), '--upstream', `http://127.0.0.1:${mockPort}`, '--threads', String(shards)], /listening/);
  results.push(summary(`bare uWS+undici passthrough (${shards} threads)`, await load(`http://127.0.0.1:${passPort}/v1/chat/completions`, { authorization: 'Bearer x' })));
  await stop(pass);

  const dir = benchDir('tollgate-bench-');
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, JSON.stringify({
    listen: { host: '127.0.0.1', port: tgPort },
    shards,
    dataDir: join(dir, 'data'),
    ledger: { sync: !values['no-sync'] },
    adminToken: ADMIN,
    logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month' }] }],
    customers: [{ id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }, { limit: 1e9, unit: 'requests', period: 'month' }] }],
  }));
  const tg = await start('dist/cli.js', ['serve', '--config', config], /tollgate listening/);
  const tgResult = summary(`tollgate, budgets + ledger on (${shards} shards)`, await load(`http://127.0.0.1:${tgPort}/v1/chat/completions`, { authorization: `Bearer ${KEY}` }));
  results.push(tgResult);
  const stats = await (await fetch(`http://127.0.0.1:${tgPort}/admin/stats`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
  await stop(tg);

  const base = results[1].rps;
  const commit = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim(); } catch { return 'unknown'; } })();
  const conditions = { node: process.version, cpus: cpus().length, shards, connections, duration_s: duration, stream: values.stream, ledger_sync: !values['no-sync'], commit };
  const out = { conditions, results, tollgate_vs_passthrough: tgResult.rps / base, tollgate_vs_direct: tgResult.rps / results[0].rps, decision: stats.decision };
  if (values.json) {
    console.log(JSON.stringify(out, null, 2));
  } else {
    console.log(`\nconditions: ${Object.entries(conditions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    console.log('(load generator, mock, and proxy share the same cores)\n');
    console.log('| run | req/s | p50 ms | p99 ms | non-2xx | errors |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of results) console.log(`| ${r.name} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.non2xx} | ${r.errors} |`);
    console.log(`\ntollgate / passthrough throughput: ${(out.tollgate_vs_passthrough * 100).toFixed(1)}%   tollgate / direct: ${(out.tollgate_vs_direct * 100).toFixed(1)}%`);
    const d = stats.decision;
    console.log(`enforcement decision under that load (${d.count} decisions): p50 ${d.p50_us.toFixed(1)} µs, p99 ${d.p99_us.toFixed(1)} µs, p99.9 ${d.p999_us.toFixed(1)} µs, max ${d.max_us.toFixed(1)} µs`);
  }
} finally {
  await stop(mock);
}
