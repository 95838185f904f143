// node bench/ledger-bench.mjs [-- --duration 10 --connections 50 --rounds 2 --before /path/to/other/dist/cli.js]
//
// The ledger's share of a small call, in one interleaved run (the machine is
// shared: compare ratios, not absolutes): the bare uWebSockets.js + undici
// passthrough, then Tollgate (this build, and optionally another build given
// by --before) on the small-chat scenario with the ledger on (sync), round
// after round. For each Tollgate run, from its /metrics: ledger commits per
// second (journal groups; LMDB batches on a build without the journal), rows
// per commit, and the commit latency the client waits (p50/p99, interpolated
// in tollgate_ledger_commit_seconds buckets).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';
import { buckets, series, sum } from './prom-text.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    shards: { type: 'string', default: '2' },
    before: { type: 'string' },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const shards = Number(values.shards);
const ADMIN = 'bench-admin-token';
const KEY = 'tg-bench-key-0001';
const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you today?' }], max_tokens: 16 });
const load = (url, headers) => new Promise((resolve, reject) => {
  autocannon({ url, method: 'POST', connections, duration, headers: { 'content-type': 'application/json', ...headers }, body }, (err, r) => (err ? reject(err) : resolve(r)));
});

const mockPort = 19500, passPort = 19501, tgPort = 19502;
/** Percentile from cumulative histogram buckets (summed over shards), linear inside a bucket. */
function percentile(text, q) {
  const sorted = [...buckets(text, 'tollgate_ledger_commit_seconds')].map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), c]).sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)[1];
  const want = q * total;
  let prevLe = 0, prevC = 0;
  for (const [le, c] of sorted) {
    if (c >= want) return le === Infinity ? prevLe * 1000 : (prevLe + ((want - prevC) / Math.max(1, c - prevC)) * (le - prevLe)) * 1000;
    prevLe = le;
    prevC = c;
  }
  return NaN;
}

async function tollgate(name, cli) {
  const dir = benchDir('tollgate-ledger-bench-');
  const config = join(dir, 'tollgate.yaml');
  writeFileSync(config, JSON.stringify({
    listen: { host: '127.0.0.1', port: tgPort }, shards, dataDir: join(dir, 'data'), ledger: { sync: true }, adminToken: ADMIN, logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month' }] }],
    customers: [{ id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }, { limit: 1e9, unit: 'requests', period: 'month' }] }],
  }));
  const p = await start(cli, ['serve', '--config', config], /tollgate listening/);
  try {
    const r = await load(`http://127.0.0.1:${tgPort}/v1/chat/completions`, { authorization: `Bearer ${KEY}` });
    const m = await (await fetch(`http://127.0.0.1:${tgPort}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const journal = series(m, 'tollgate_ledger_journal_commits_total').length > 0;
    const commits = journal ? sum(m, 'tollgate_ledger_journal_commits_total') : sum(m, 'tollgate_ledger_commit_seconds_count');
    const rows = journal ? sum(m, 'tollgate_ledger_journal_rows_total') : r.requests.total;
    return {
      name, rps: Math.round(r.requests.average), p99_ms: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx,
      commits_per_s: Math.round(commits / duration), rows_per_commit: +(rows / commits).toFixed(1),
      wait_p50_ms: +percentile(m, 0.5).toFixed(2), wait_p99_ms: +percentile(m, 0.99).toFixed(2),
      ...(journal ? { lmdb_commits_per_s: Math.round(sum(m, 'tollgate_ledger_lmdb_commits_total') / duration), lmdb_rows_per_commit: +(sum(m, 'tollgate_ledger_lmdb_rows_total') / sum(m, 'tollgate_ledger_lmdb_commits_total')).toFixed(1) } : {}),
    };
  } finally {
    await stop(p);
  }
}

const mock = await start('bench/mock-upstream.mjs', ['--port', String(mockPort), '--completion-tokens', '16'], /listening/);
const results = [];
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    const pass = await start('bench/passthrough.mjs', ['--port', String(passPort), '--upstream', `http://127.0.0.1:${mockPort}`, '--threads', String(shards)], /listening/);
    const r = await load(`http://127.0.0.1:${passPort}/v1/chat/completions`, { authorization: 'Bearer x' });
    await stop(pass);
    const floor = Math.round(r.requests.average);
    results.push({ round, name: 'passthrough', rps: floor, p99_ms: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx });
    if (values.before) results.push({ round, ...(await tollgate('before', values.before)) });
    results.push({ round, ...(await tollgate('this build', 'dist/cli.js')) });
    for (const x of results.filter((x) => x.round === round && x.name !== 'passthrough')) x.ratio = +(x.rps / floor).toFixed(2);
  }
} finally {
  await stop(mock);
}
console.log(`connections=${connections} duration=${duration}s shards=${shards} (load generator, mock and proxies share the cores)`);
console.table(results);
