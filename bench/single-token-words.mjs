import { get_encoding } from '@dqbd/tiktoken';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const files = execSync("find -L node_modules -name '*.md' -size +2k 2>/dev/null | head -3000", { encoding: 'utf8' }).trim().split('\n');
const freq = new Map();
let total = 0;
for (const f of files) { let t; try { t = readFileSync(f, 'utf8'); } catch { continue; } for (const w of t.match(/(?<![A-Za-z0-9_])[a-z]{2,14}(?![A-Za-z0-9_])/g) ?? []) { freq.set(w, (freq.get(w) ?? 0) + 1); total++; } }
const encs = [get_encoding('o200k_base'), get_encoding('cl100k_base')];
const one = (s) => encs.every((e) => e.encode_ordinary(s).length === 1);
const top = [...freq.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6000);
const ok = top.filter(([w]) => { const W = w[0].toUpperCase() + w.slice(1); return one(w) && one(' ' + w) && one(W) && one(' ' + W); }).map(([w]) => w).slice(0, 2500);
console.error(files.length, 'files', total, 'words', ok.length, 'dict');
process.stdout.write(ok.join(' '));
