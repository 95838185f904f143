import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PATHS } from './scan-both.js';

// Shards are worker threads: each loads the addon with its own result array.
// Two threads scanning different bodies at once must each read their own
// results (a shared one would mix them). Runs the compiled dist/ (npm test
// builds it first), as the shards do.

const readRequest = new URL('../../dist/protocols/read-request.js', import.meta.url).href;

const source = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.module).then(({ readRequest }) => {
  const raw = Buffer.from(JSON.stringify({ model: workerData.model, messages: [{ role: 'user', content: workerData.text }] }));
  const seen = new Set();
  for (let i = 0; i < 20000; i++) {
    const c = readRequest('chat', raw);
    seen.add(c.model + ' ' + c.promptTokensEstimate);
  }
  parentPort.postMessage([...seen]);
});`;

function run(model: string, text: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { module: readRequest, model, text } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe.runIf(PATHS.includes('native'))('the addon in worker threads', () => {
  it('gives each thread its own results', async () => {
    fileURLToPath(readRequest);
    const [a, b] = await Promise.all([run('gpt-4o', 'short'), run('claude-x', 'a much longer prompt '.repeat(200))]);
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(a[0]).toMatch(/^gpt-4o \d+$/);
    expect(b[0]).toMatch(/^claude-x \d+$/);
  });
});
