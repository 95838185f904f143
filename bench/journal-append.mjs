// node bench/journal-append.mjs [-- --base /other/build --groups 2000 --bytes 4000 --rounds 3]
//
// The journal's durability point alone: one Journal (ledger.sync on), `groups`
// appends of one `bytes`-byte group each (a group commit of ~13 small rows is
// ~4 KB), each append followed by its fdatasync, as the writer thread does.
// Prints per append: wall time p50/p99 (what a call's client waits for, plus
// the thread hop) and this thread's CPU, user and kernel (the kernel share is
// the fdatasync's: the filesystem's journal commit when the file grows). With
// --base, another build's dist/store/journal.js runs the same appends,
// interleaved round by round (the order swaps each round): the disk is
// shared, compare within a run.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir } from './bench-dir.mjs';

const { values } = parseArgs({ options: { base: { type: 'string' }, groups: { type: 'string', default: '2000' }, bytes: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '3' } } });
const root = resolve(new URL('..', import.meta.url).pathname);
const builds = [['this', root], ...(values.base ? [['base', resolve(values.base)]] : [])];
const journals = Object.fromEntries(await Promise.all(builds.map(async ([name, dir]) => [name, (await import(join(dir, 'dist/store/journal.js'))).Journal])));
// A real batch's bytes do not matter to the disk; its size does.
const payload = Buffer.alloc(Number(values.bytes), 0x5a);

function run(Journal, groups) {
  const j = new Journal(benchDir('tg-journal-append-'), true, 64 * 1024 * 1024);
  j.recover();
  const times = new Float64Array(groups);
  const cpu = process.cpuUsage();
  for (let i = 0; i < groups; i++) {
    const t = performance.now();
    j.append(i + 1, [payload], 13);
    times[i] = performance.now() - t;
  }
  const used = process.cpuUsage(cpu);
  j.close();
  times.sort();
  const q = (p) => Math.round(times[Math.min(groups - 1, Math.floor(p * groups))] * 1000);
  return { 'p50 µs': q(0.5), 'p99 µs': q(0.99), 'max µs': q(1), 'user µs': Math.round(used.user / groups), 'kernel µs': Math.round(used.system / groups) };
}

// JIT warm-up, unmeasured.
for (const [name] of builds) run(journals[name], 200);
const rows = [];
const groups = Number(values.groups);
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const [name] of round % 2 ? builds : [...builds].reverse()) rows.push({ round, build: name, ...run(journals[name], groups) });
}
console.log(`${values.groups} appends of ${payload.length} bytes, each fdatasync'ed; loadavg ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.table(rows);
