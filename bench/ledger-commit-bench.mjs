// node bench/ledger-commit-bench.mjs [-- --seconds 5 --shards 2 --calls 25 --rounds 2 --before /other/build/dist --base /other/build]
//
// The ledger alone, as the shards use it: `shards` worker threads, each with
// `calls` concurrent "calls" that append one usage row and wait for it to be
// durable, again and again, for `seconds` (sync on). This build (binary
// batches → the writer thread's group-committed journal, LMDB behind) and,
// with --before, another build's dist (its Ledger: one LMDB transaction per
// shard per event turn), interleaved round after round. Prints rows/s,
// commits/s (journal groups, or LMDB transactions), rows per commit and the
// latency a call waits for its row (p50/p99). --no-sync: ledger.sync false.
// Note: the older build's sync commit resolves when LMDB has committed, not
// when it has flushed (lmdb-js overlappingSync); this build's when the journal
// is fdatasync'ed. --base: another build with a journal writer (its
// dist/server/ledger-writer-thread.js and row batcher), run the same way,
// interleaved (the order swaps each round); the process's CPU per row (user,
// kernel: the writer thread's journal and LMDB work, LMDB's own sync thread,
// and the shards' row encoding) is printed for each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const own = resolve(new URL('../dist', import.meta.url).pathname);

if (isMainThread) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, shards: { type: 'string', default: '2' }, calls: { type: 'string', default: '25' }, rounds: { type: 'string', default: '2' }, before: { type: 'string' }, base: { type: 'string' }, 'no-sync': { type: 'boolean', default: false } } });
  const opts = { seconds: Number(values.seconds), shards: Number(values.shards), calls: Number(values.calls), sync: !values['no-sync'] };
  const results = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    if (values.before) results.push({ round, build: 'before (LMDB per turn)', ...(await run('before', resolve(values.before), opts)) });
    const journals = [['this (journal + write-behind)', own], ...(values.base ? [['base', resolve(values.base, 'dist')]] : [])];
    for (const [build, dist] of round % 2 ? journals : journals.reverse()) results.push({ round, build, ...(await run('journal', dist, opts)) });
  }
  console.log(`shards=${opts.shards} calls per shard=${opts.calls} seconds=${opts.seconds} sync=${opts.sync} (machine shared: compare within the run)`);
  console.table(results);
} else {
  await shard(workerData);
}

async function run(mode, dist, { seconds, shards, calls, sync }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tg-commit-bench-'));
  let writer, progress, health;
  if (mode === 'journal') {
    const { configSchema } = await import(join(dist, 'config/schema.js'));
    const { LedgerProgress } = await import(join(dist, 'store/ledger-progress.js'));
    const { LedgerHealth } = await import(join(dist, 'store/ledger-health.js'));
    progress = LedgerProgress.create();
    health = LedgerHealth.create(shards + 2);
    const config = configSchema.parse({ dataDir, ledger: { sync }, providers: [{ name: 'p', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'k' }] });
    writer = new Worker(join(dist, 'server/ledger-writer-thread.js'), { workerData: { config, healthSab: health.sab, healthThread: shards + 1, progressSab: progress.sab } });
    await new Promise((r) => writer.on('message', (m) => m.t === 'writer-ready' && r()));
  }
  const workers = Array.from({ length: shards }, (_, i) => {
    let port;
    if (writer) {
      const ch = new MessageChannel();
      writer.postMessage({ t: 'writer-connect', port: ch.port1 }, [ch.port1]);
      port = ch.port2;
    }
    return new Worker(new URL(import.meta.url), { workerData: { mode, dist, dataDir, seconds, calls, shard: i, port, sync }, transferList: port ? [port] : [] });
  });
  const cpu = process.cpuUsage();
  const outs = await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const used = process.cpuUsage(cpu);
  const lat = outs.flatMap((o) => o.lat).sort((a, b) => a - b);
  const rows = outs.reduce((n, o) => n + o.rows, 0);
  let commits = outs.reduce((n, o) => n + o.commits, 0);
  let extra = {};
  if (writer) {
    commits = progress.read('journalCommits');
    extra = { lmdb_commits_per_s: Math.round(progress.read('lmdbCommits') / seconds), lmdb_rows_per_commit: +(progress.read('lmdbRows') / progress.read('lmdbCommits')).toFixed(1) };
    const closed = new Promise((r) => writer.on('message', (m) => m.t === 'writer-closed' && r()));
    writer.postMessage({ t: 'writer-close', id: 1 });
    await closed;
    await writer.terminate();
  }
  rmSync(dataDir, { recursive: true, force: true });
  const pct = (q) => +lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2);
  return { rows_per_s: Math.round(rows / seconds), commits_per_s: Math.round(commits / seconds), rows_per_commit: +(rows / commits).toFixed(1), wait_p50_ms: pct(0.5), wait_p99_ms: pct(0.99), ...extra, user_us_per_row: Math.round(used.user / rows), kernel_us_per_row: Math.round(used.system / rows) };
}

async function shard({ mode, dist, dataDir, seconds, calls, shard, port, sync }) {
  const { Ledger } = await import(join(dist, 'store/ledger.js'));
  let append;
  let commits = 0;
  if (mode === 'journal') {
    const { RowBatcher } = await import(join(dist, 'store/row-batcher.js'));
    const batcher = new RowBatcher((batch, rows, seq) => port.postMessage({ t: 'ledger-rows', seq, rows, buf: batch.buffer, bytes: batch.length }, [batch.buffer]));
    port.on('message', (m) => batcher.acked(m.seq));
    append = (row) => batcher.append(row);
  } else {
    const ledger = new Ledger(dataDir, 'UTC', sync);
    let last;
    append = (row) => {
      const p = ledger.append(row);
      if (p !== last) commits++; // appends of one turn share one transaction's promise
      last = p;
      return p;
    };
  }
  const lat = [];
  let rows = 0;
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const call = async () => {
    while (performance.now() < end) {
      const row = {
        request_id: `req_${shard}_${n++}`, ts: Date.now(), customer: 'bench', agent: null, session: null, tags: { team: 'a' }, endpoint: '/v1/chat/completions',
        model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini-2024-07-18', provider: 'openai', prompt_tokens: 14, completion_tokens: 16, cached_tokens: 0,
        cache_write_tokens: 0, cache_write_1h_tokens: 0, cost_nano: 11_700, billed_nano: 11_700, decision: 'allowed', reason: null, status: 200, latency_ms: 3,
        idempotency_key: null, price_source: 'openai', usage_source: 'provider',
      };
      const t = performance.now();
      await append(row);
      lat.push(performance.now() - t);
      rows++;
    }
  };
  await Promise.all(Array.from({ length: calls }, call));
  parentPort.postMessage({ rows, commits, lat });
}
