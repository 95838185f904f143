#!/usr/bin/env node
// Micro-bench of the prompt estimate on a 100 KB prompt: the old chars/4
// walk (a string's length, with its base64 shortcut) against the upper
// bound in src/protocols/estimate/ (build first: npx tsc -p tsconfig.json).
// Usage: node bench/estimate-bench.mjs

import { readFileSync } from 'node:fs';
import { promptTokenBound } from '../dist/protocols/estimate/prompt-estimate.js';

function oldTextSize(v, depth = 0) {
  if (typeof v === 'string') return v.length > 20_000 && /^(data:|[A-Za-z0-9+/=]{200})/.test(v) ? 4_000 : v.length;
  if (Array.isArray(v)) { let n = 0; for (const x of v) n += oldTextSize(x, depth + 1); return n; }
  if (v && typeof v === 'object') {
    let n = 0;
    for (const k in v) { if (k === 'model' || k === 'stream' || k === 'max_tokens') continue; n += oldTextSize(v[k], depth + 1); }
    return n;
  }
  return 0;
}

const docs = ['README.md', 'docs/architecture.md'].map((f) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8')).join('\n');
const fill = (s) => s.repeat(Math.ceil(100_000 / s.length)).slice(0, 100_000);
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const prompts = {
  'English (README + architecture)': fill(docs),
  'base64': Buffer.from(Array.from({ length: 75_000 }, () => (rand() * 256) | 0)).toString('base64'),
  'CJK': fill(Array.from({ length: 5_000 }, () => String.fromCharCode(0x4e00 + ((rand() * 20_000) | 0))).join('')),
};

// A bare charCodeAt loop over the same text: the floor of any one-pass scan, and a yardstick on a busy machine.
function baseline(b) {
  const s = b.messages[0].content;
  let q = 0;
  for (let i = 0; i < s.length; i++) q += s.charCodeAt(i) > 96 ? 1 : 2;
  return q;
}

function time(fn, body) {
  for (let i = 0; i < 50; i++) fn(body);
  const runs = 300;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) fn(body);
  return Number(process.hrtime.bigint() - t0) / runs / 1_000;
}

for (const [name, content] of Object.entries(prompts)) {
  // As the proxy sees it: flat strings from JSON.parse.
  const body = JSON.parse(JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content }], max_tokens: 100 }));
  const before = time((b) => Math.ceil(oldTextSize(b) / 4) + 8, body);
  const after = time((b) => promptTokenBound('gpt-4o', b), body);
  const floor = time(baseline, body);
  console.log(`${name.padEnd(32)} ${(content.length / 1000).toFixed(0)} K chars  old ${before.toFixed(1)} µs  new ${after.toFixed(1)} µs  bare loop ${floor.toFixed(1)} µs  estimate ${promptTokenBound('gpt-4o', body)}`);
}
