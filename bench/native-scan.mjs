// Micro-benchmark of reading a request body and building the upstream body,
// per call: the native addon, the JavaScript path (JSON.parse + layout +
// splice), and the path before native/ (JSON.parse + estimate + JSON.stringify
// of the edited object). Rounds are interleaved, so the machine's noise hits
// all three alike; the median round is printed. Time is the process's CPU
// time (all its threads, so GC helpers count), not wall time: on a shared
// machine wall time mostly measures the other processes. Runs the compiled dist/:
//   npx tsc -p tsconfig.json && node bench/native-scan.mjs [rounds]
import { nativePath } from '../dist/native/native-addon.js';
import { parseCall, upstreamBody } from '../dist/protocols/call.js';
import { readRequestJs, readRequestNative } from '../dist/protocols/read-request.js';
import { utf8Text } from '../dist/http/utf8-body.js';

if (nativePath.kind !== 'native') throw new Error(`the addon did not load (${nativePath.reason}): npm run build:native`);
const addon = nativePath.addon;
const rounds = Number(process.argv[2] ?? 15);

const words = 'The quick brown fox jumps over the lazy dog while the budget proxy counts every token of the prompt, 12345 times; ';
const small = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'Hello, how are you today? Tell me about the weather in Paris and in Berlin, briefly.' }], max_tokens: 16, temperature: 0.2, user: 'u-123' }));
const long = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are a careful code reviewer.' }, ...Array.from({ length: 20 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${words.repeat(44)}\n\n\`\`\`js\nconst x = ${i};\n\`\`\`` }))], max_tokens: 512, stream: true }));

const paths = {
  native: (raw) => readRequestNative('chat', raw, (b) => addon.scanRequest(b)),
  js: (raw) => readRequestJs('chat', raw),
  before: (raw) => ({ ...parseCall('chat', JSON.parse(utf8Text(raw))), layout: undefined }),
};

/** CPU µs per call: read the body, build the upstream body (optionally with an edit), as bytes. */
function time(read, raw, clamp, n) {
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const c = read(raw);
    const out = upstreamBody(c, c.model, clamp);
    sink += (typeof out === 'string' ? Buffer.from(out) : out).length + c.promptTokensEstimate;
  }
  const d = process.cpuUsage(t0);
  const us = (d.user + d.system) / n;
  if (sink < 0) console.log(sink);
  return us;
}

const cases = [
  ['400 B chat, no edit', small, undefined, 20_000],
  ['400 B chat, max_tokens clamped', small, 8, 20_000],
  [`${(long.length / 1024).toFixed(0)} KB prompt, stream (include_usage added)`, long, undefined, 400],
  [`${(long.length / 1024).toFixed(0)} KB prompt, stream, max_tokens clamped`, long, 100, 400],
];
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`small body ${small.length} B, long body ${long.length} B; ${rounds} interleaved rounds, median CPU µs per call\n`);
console.log('case'.padEnd(48) + 'native'.padStart(10) + 'js'.padStart(10) + 'before'.padStart(10) + '   before/native');
for (const [name, raw, clamp, n] of cases) {
  const r = { native: [], js: [], before: [] };
  for (const [k, f] of Object.entries(paths)) time(f, raw, clamp, n / 4); // warm-up
  for (let i = 0; i < rounds; i++) for (const [k, f] of Object.entries(paths)) r[k].push(time(f, raw, clamp, n / 10));
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]));
  console.log(name.padEnd(48) + m.native.toFixed(2).padStart(10) + m.js.toFixed(2).padStart(10) + m.before.toFixed(2).padStart(10) + `   ${(m.before / m.native).toFixed(1)}×`);
}
