// Micro-benchmark of the addon's SSE scan alone (native/src/sse_scan.cc
// scanSse, what StreamWatch.skip and scan run on every event of a streamed
// answer): the mock upstream's streams (bench/mock-upstream.mjs, the exact
// bytes: a chat answer is its role chunk, 19 word chunks, the finish chunk,
// the usage chunk and [DONE]; a Responses and a Messages answer of 19 words
// too), each scanned whole per call, many times. Single-threaded and short:
// not a load test. Time is the process's CPU time, per event; rounds are
// interleaved and the median round is printed. With --before PATH (another
// build of tollgate_native.node, e.g. from the base commit), both builds are
// timed in the same rounds, after checking they give the same slots.
//   npx tsc -p tsconfig.json && node bench/sse-scan-bench.mjs [--before old.node] [rounds]
import { parseArgs } from 'node:util';
import { startMockUpstream } from './mock-upstream.mjs';
import { nativePath } from '../dist/native/native-addon.js';

if (nativePath.kind !== 'native') throw new Error(`the addon did not load (${nativePath.reason}): npm run build:native`);
const { values, positionals } = parseArgs({ options: { before: { type: 'string' } }, allowPositionals: true });
const rounds = Number(positionals[0] ?? 15);

const builds = { after: nativePath.addon };
if (values.before) {
  const m = { exports: {} };
  process.dlopen(m, values.before);
  builds.before = m.exports;
}

/** The bytes of one streamed answer of the mock, per endpoint (the SSE events as the relay gets them). */
async function streams() {
  const mock = await startMockUpstream({ completionTokens: 19 });
  const post = async (path, body) => Buffer.from(await (await fetch(mock.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) })).arrayBuffer());
  const user = [{ role: 'user', content: 'Hello, how are you today?' }];
  try {
    return {
      chat: [0, await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: user, stream: true, stream_options: { include_usage: true } })],
      responses: [1, await post('/v1/responses', { model: 'gpt-4o-mini', input: 'Hello, how are you today?', stream: true })],
      messages: [2, await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 100, messages: user, stream: true })],
    };
  } finally {
    await mock.close();
  }
}

const OUT = new Int32Array(512 * 5);

/** CPU ns per event: `calls` scans of the whole stream. */
function time(addon, b, endpoint, events, calls) {
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) sink += addon.scanSse(b, 0, endpoint, OUT);
  const d = process.cpuUsage(t0);
  if (sink !== events * calls) throw new Error('scanSse found another number of events');
  return ((d.user + d.system) * 1000) / (calls * events);
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const all = await streams();
const names = Object.keys(builds);
console.log(`${rounds} interleaved rounds, median CPU ns per event (the whole stream per scanSse call)\n`);
console.log('stream'.padEnd(34) + names.map((n) => n.padStart(10)).join('') + (builds.before ? '   before/after' : ''));
for (const [name, [endpoint, b]] of Object.entries(all)) {
  const slots = (addon) => {
    const n = addon.scanSse(b, 0, endpoint, OUT);
    return [...OUT.subarray(0, n * 5)].join();
  };
  if (builds.before && slots(builds.before) !== slots(builds.after)) throw new Error(`${name}: the builds disagree`);
  const events = builds.after.scanSse(b, 0, endpoint, OUT);
  const calls = Math.ceil(30_000_000 / b.length);
  const r = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) time(builds[n], b, endpoint, events, calls); // warm-up
  for (let i = 0; i < rounds; i++) for (const n of names) r[n].push(time(builds[n], b, endpoint, events, calls));
  const m = Object.fromEntries(names.map((n) => [n, median(r[n])]));
  const label = `${name} (${events} events, ${b.length} B)`;
  console.log(label.padEnd(34) + names.map((n) => m[n].toFixed(1).padStart(10)).join('') + (builds.before ? `   ${(m.before / m.after).toFixed(1)}×` : ''));
}
