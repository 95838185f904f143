// node bench/alloc-sample.mjs [--scenario small --rate 1500 --seconds 6 --warmup 4 --connections 50
//                              --interval 256 --top 40 --out DIR --port-base 19300 --build DIR]
//
// What one call allocates on the shards, in bytes per request, and where.
// --heap-prof cannot answer it: its samples are only the objects still alive
// at the end, and nearly everything a call makes dies young. So a preload in
// every shard opens an inspector session on its own thread and runs V8's
// sampling heap profiler with the flags that keep samples of objects the
// minor and major GCs freed; the profile's sizes then estimate every byte
// allocated while it ran. Sampling starts and stops when this script writes
// a marker file (polled by the shards), around one bounded autocannon load
// whose requests it counts, so bytes / requests is the allocation per call.
// Profiles are written as <out>/shard-N.heapprofile (Chrome DevTools opens them).
// --survivors leaves out what the young GC freed: what is left is what a call
// promotes into the old space (or keeps), which major GCs then mark and free.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchDir } from './bench-dir.mjs';
import { start, stop } from './bench-process.mjs';
import { settle } from './proc-cpu.mjs';
import { SCENARIOS } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'small' },
    rate: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '4' },
    connections: { type: 'string', default: '50' },
    // Bytes between samples (V8's default is 32 KiB): small enough that a call's few-hundred-byte objects are seen.
    interval: { type: 'string', default: '256' },
    top: { type: 'string', default: '40' },
    out: { type: 'string' },
    'port-base': { type: 'string', default: '19300' },
    // Another build to sample (a directory with dist/); this one by default.
    build: { type: 'string', default: '.' },
    // Only what outlived a young GC (promoted to the old space, or still alive at the end): what makes major GCs.
    survivors: { type: 'boolean', default: false },
  },
});
const scenario = SCENARIOS.find((s) => s.name === values.scenario);
const KEY = 'tg-bench-key-0001';
const out = values.out ? resolve(values.out) : benchDir('alloc-sample-');
// A fresh directory: no marker or profile left from an earlier run.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const PRELOAD = join(benchDir('alloc-preload-'), 'alloc-preload.cjs');
writeFileSync(PRELOAD, `
const wt = require('node:worker_threads');
const d = wt.workerData;
if (!wt.isMainThread && d && d.shard !== undefined) {
  const fs = require('node:fs');
  const inspector = require('node:inspector');
  const dir = ${JSON.stringify(out)};
  const s = new inspector.Session();
  s.connect();
  let state = 'idle';
  const poll = setInterval(() => {
    if (state === 'idle' && fs.existsSync(dir + '/start')) {
      state = 'sampling';
      s.post('HeapProfiler.startSampling', { samplingInterval: ${Number(values.interval)}, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: ${!values.survivors} });
    } else if (state === 'sampling' && fs.existsSync(dir + '/stop')) {
      state = 'done';
      clearInterval(poll);
      s.post('HeapProfiler.stopSampling', (err, r) => {
        fs.writeFileSync(dir + '/shard-' + d.shard + '.heapprofile', JSON.stringify(err ? { error: String(err) } : r.profile));
      });
    }
  }, 20);
  poll.unref();
}
`);

function config(dir, port, mockPort) {
  const file = join(dir, 'tollgate.yaml');
  writeFileSync(file, JSON.stringify({
    listen: { host: '127.0.0.1', port },
    shards: 2,
    dataDir: join(dir, 'data'),
    ledger: { sync: true },
    adminToken: 'bench-admin-token',
    logLevel: 'warn',
    providers: [{ name: 'openai', type: 'openai', baseUrl: `http://127.0.0.1:${mockPort}/v1`, apiKey: 'sk-bench' }],
    plans: [{ name: 'pro', budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month', thresholds: [{ at: 0.8, action: 'warn' }] }] }],
    customers: [{ id: 'bench', plan: 'pro', keys: [KEY], budgets: [{ limit: 1e12, unit: 'tokens', period: 'day' }], rateLimit: { requestsPerMinute: 100_000_000 } }],
  }));
  return file;
}

const load = (url, duration) => new Promise((res, rej) => {
  autocannon({ url, method: 'POST', connections: Number(values.connections), duration, overallRate: Number(values.rate), headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: scenario.body }, (err, r) => (err ? rej(err) : res(r)));
});

const pb = Number(values['port-base']);
const mock = await start('bench/mock-upstream.mjs', ['--port', String(pb), '--completion-tokens', '19'], /listening/);
process.once('exit', () => mock.kill());
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`;
const tg = await start(join(resolve(values.build), 'dist/cli.js'), ['serve', '--config', config(benchDir('alloc-tollgate-'), pb + 1, pb)], /tollgate listening/, 120_000);
const url = `http://127.0.0.1:${pb + 1}/v1/chat/completions`;
await load(url, Number(values.warmup));
await settle(tg.pid); // the warm-up's aborted calls finish before sampling starts, as in bench/run.mjs
writeFileSync(join(out, 'start'), '');
await new Promise((r) => setTimeout(r, 100)); // every shard has seen the marker (polled each 20 ms)
const r = await load(url, Number(values.seconds));
writeFileSync(join(out, 'stop'), '');
const deadline = Date.now() + 20_000;
while (readdirSync(out).filter((f) => f.endsWith('.heapprofile')).length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
await stop(tg);
await stop(mock);

// Self bytes per function (and per module), over both shards.
const byFn = new Map();
let total = 0;
for (const f of readdirSync(out).filter((x) => x.endsWith('.heapprofile'))) {
  const walk = (n) => {
    const c = n.callFrame;
    const key = `${c.functionName || '(anon)'} ${c.url.split('/').slice(-2).join('/')}:${c.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(JSON.parse(readFileSync(join(out, f), 'latin1')).head);
}
const n = r.requests.total;
console.log(`${scenario.name}/${values.connections} at ${values.rate} req/s for ${values.seconds} s: ${n} requests, errors ${r.errors + r.timeouts + r.non2xx}; shards ${values.survivors ? 'kept past a young GC' : 'allocated'} ~${Math.round(total / n)} B per request (sampling every ${values.interval} B; profiles in ${out})`);
for (const [k, b] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${String(Math.round(b / n)).padStart(6)} B  ${k}`);
process.exit(0);
