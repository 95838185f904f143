import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm run bench` end to end, cut to one scenario at a few connections for
// about a second a cell: the cells run, every target answers without errors,
// and the report carries what it promises (no timing is asserted).

const root = fileURLToPath(new URL('../..', import.meta.url));

function bench(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bench/run.mjs', ...args], { cwd: root, timeout: 170_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('npm run bench', () => {
  it('runs the streamed scenario against the mock, the floor and Tollgate, with CPU, ratios and decisions', async () => {
    const portBase = 20_000 + Math.floor(Math.random() * 20_000);
    const out = JSON.parse(await bench(['--seconds', '1', '--warmup', '0', '--connections', '4', '--only', 'stream', '--port-base', String(portBase), '--json']));
    expect(out.results.map((r: any) => r.target)).toEqual(['mock', 'floor', 'tollgate']);
    for (const r of out.results) {
      expect(r).toMatchObject({ scenario: 'stream', connections: 4, errors: 0 });
      expect(r.requests).toBeGreaterThan(0);
      expect(r.cpu_ms_per_req).toBeGreaterThanOrEqual(0);
    }
    const tg = out.results[2];
    expect(tg.rps_vs_floor).toBeGreaterThan(0);
    // Calls in flight when the load stops are cut by the load generator (499): only allowed calls, at least those it counted.
    expect(tg.outcomes['allowed 200']).toBeGreaterThanOrEqual(tg.requests);
    expect(Object.keys(tg.outcomes).filter((k) => !k.startsWith('allowed '))).toEqual([]);
    expect(tg.decision.count).toBeGreaterThanOrEqual(tg.requests);
  }, 180_000); // three servers start; a loaded machine is slow at that
});
