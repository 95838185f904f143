// Per-thread CPU of Tollgate builds under one bounded load, in µs per request:
//
//   node bench/thread-cpu.mjs --build /work/main,. [--scenario stream] [--connections 50]
//        [--seconds 5] [--warmup 6] [--windows 1] [--rounds 1] [--rate R] [--no-cap]
//        [--prof DIR] [--port-base 19300]
//
// Each build (dist/ of each directory) gets a fresh process with bench/run.mjs's
// realistic config (2 shards, ledger synced), the same mock upstream, and a
// warm-up at full speed; then `--windows` measured windows of `--seconds`
// each. Per window: utime + stime of every /proc/<pid>/task/<tid>, grouped:
// main, v8 (the four V8 platform workers: concurrent GC and compilation),
// ledger (the ledger writer), shard0/1, late (threads started after the
// server listened: the libuv pool, the tokenizer's Piscina workers), other. The
// whole process's CPU per request hides where it goes; this shows it.
//
// Why not only bench/run.mjs: under a loaded machine a cell runs a few
// thousand requests, and its CPU per request then mostly measures warm-up
// (V8 compiling in the platform threads; it falls over the first windows).
// `--windows 3` shows that settle; `--rate R` (autocannon overallRate) holds
// both builds to the same req/s, so batching effects (commits, reads per
// wake-up) are equal. At a low rate V8's memory reducer adds full GCs that a
// loaded process would not run: compare builds at the same rate, not rates.
//
// --rounds N alternates the builds' order; --no-cap drops max_tokens from the
// body (a stream then grows a forecast hold: src/proxy/stream-hold.ts);
// --prof DIR passes --cpu-prof to the server (every thread writes a profile
// at exit). NODE_EXTRA (env) adds node flags (e.g. --trace-gc); SHOW=1 copies
// the server's output to stderr, with a marker where each window starts.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';
import { SCENARIOS } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    build: { type: 'string', default: '.' },
    scenario: { type: 'string', default: 'stream' },
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '6' },
    windows: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    rate: { type: 'string' },
    'no-cap': { type: 'boolean', default: false },
    prof: { type: 'string' },
    'port-base': { type: 'string', default: '19300' },
  },
});
const builds = values.build.split(',').map((d) => resolve(d));
const portBase = Number(values['port-base']);
const SHARDS = 2;
const KEY = 'tg-bench-key-0001';
const TICK_US = 1e6 / 100; // USER_HZ
const found = SCENARIOS.find((s) => s.name === values.scenario);
if (!found) throw new Error(`no scenario "${values.scenario}" (${SCENARIOS.map((s) => s.name).join(', ')})`);
const scenario = values['no-cap'] ? { ...found, body: JSON.stringify({ ...JSON.parse(found.body), max_tokens: undefined }) } : found;

function config(dir, port) {
  const f = join(dir, 'tollgate.yaml');
  writeFileSync(f, JSON.stringify({
    listen: { host: '127.0.0.1', port },
    shards: SHARDS,
    dataDir: join(dir, 'data'),
    ledger: { sync: true },
    adminToken: 'bench-admin-token',
    logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${portBase}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month', thresholds: [{ at: 0.8, action: 'warn' }] }] }],
    customers: [{ id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }], rateLimit: { requestsPerMinute: 100_000_000 } }],
  }));
  return f;
}

/** CPU µs so far of each thread of `pid`. */
function threadCpu(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * TICK_US);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * Thread roles by creation order (tids ascend): main; the platform's delayed-task
 * thread; four V8 platform workers; ...; the ledger writer, then the shards
 * (started last, after the writer). A thread named by Node (--cpu-prof's) keeps its name.
 */
function roles(pid) {
  const tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
  const role = new Map();
  tids.forEach((tid, i) => {
    const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
    const fromEnd = tids.length - 1 - i;
    role.set(tid, comm !== 'node' ? comm
      : i === 0 ? 'main'
      : i >= 2 && i <= 5 ? 'v8'
      : fromEnd < SHARDS ? `shard${SHARDS - 1 - fromEnd}`
      : fromEnd === SHARDS ? 'ledger'
      : 'other');
  });
  return role;
}

const load = (url, seconds, rated) => new Promise((res, rej) => {
  autocannon({
    url, method: 'POST', connections: Number(values.connections), duration: seconds,
    ...(rated && values.rate ? { overallRate: Number(values.rate) } : {}),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: scenario.body,
  }, (e, r) => (e ? rej(e) : res(r)));
});

/** The server with node flags before its script (bench-process.mjs's start() takes a script first). */
function server(args) {
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (process.env.SHOW) {
    p.stdout.on('data', (d) => process.stderr.write(d));
    p.stderr.on('data', (d) => process.stderr.write(d));
  }
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`tollgate did not start within 120 s:\n${out}`)), 120_000);
    const on = (d) => {
      out += d;
      if (/tollgate listening/.test(out)) {
        clearTimeout(t);
        resolve(p);
      }
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.once('exit', (c) => reject(new Error(`tollgate exited ${c}:\n${out}`)));
  });
}

async function measure(dir, port) {
  const args = [join(dir, 'dist/cli.js'), 'serve', '--config', config(benchDir('tg-thread-cpu-'), port)];
  if (values.prof) {
    mkdirSync(values.prof, { recursive: true });
    args.unshift('--cpu-prof', `--cpu-prof-dir=${values.prof}`);
  }
  if (process.env.NODE_EXTRA) args.unshift(...process.env.NODE_EXTRA.split(' '));
  const p = await server(args);
  try {
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    // Roles from the threads at start: the ones made later (the tokenizer's Piscina workers, the libuv pool) are `late`.
    const role = roles(p.pid);
    await load(url, Number(values.warmup), false);
    for (let w = 0; w < Number(values.windows); w++) {
      if (process.env.SHOW) process.stderr.write('=== window\n');
      const a = threadCpu(p.pid);
      const r = await load(url, Number(values.seconds), true);
      const b = threadCpu(p.pid);
      const n = r.requests.total;
      const groups = new Map();
      let total = 0;
      for (const [tid, us] of b) {
        const d = us - (a.get(tid) ?? 0);
        total += d;
        const k = role.get(tid) ?? 'late';
        groups.set(k, (groups.get(k) ?? 0) + d);
      }
      const per = [...groups].sort((x, y) => y[1] - x[1]).map(([k, d]) => `${k}=${(d / n).toFixed(0)}`).join(' ');
      console.log(`${dir} ${scenario.name}${values['no-cap'] ? '(no cap)' : ''}/${values.connections} window ${w + 1}: ${n} req, ${Math.round(r.requests.average)} req/s, errors ${r.errors + r.non2xx}, ${(total / n).toFixed(0)} µs/req | ${per} | loadavg ${readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ')}`);
    }
  } finally {
    await stop(p);
  }
}

const mock = await start('bench/mock-upstream.mjs', ['--port', String(portBase), '--completion-tokens', '19'], /listening/);
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = round % 2 ? [...builds].reverse() : builds;
    for (const dir of order) await measure(dir, portBase + 2 + builds.indexOf(dir));
  }
} finally {
  await stop(mock);
}
