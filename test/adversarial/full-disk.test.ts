import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { CLI, launch, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

// The ledger's disk fills up. Calls must stop before they reach the provider
// (503 ledger_unavailable, /readyz 503, a metric and an alert), resume by
// themselves when space returns, a call whose commit failed must not be told
// it succeeded before its row is durable (in the journal) and its row must
// not be lost, and SIGTERM stays bounded.
// Needs root for a small tmpfs; skipped (loudly) without it.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let disk: Tmpfs | undefined;
let mountPoint = '';
let hook: Server;
const alerts: { event: string; detail?: string }[] = [];
let hookUrl = '';

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 20 });
  disk = mountTmpfs('8m', 'tollgate-tmpfs-');
  mountPoint = disk?.path ?? '';
  hook = createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => {
      alerts.push(JSON.parse(b));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
});

afterAll(async () => {
  await mock?.close();
  hook?.close();
  disk?.unmount();
});

const customers = [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }];

function fill(dir: string): string {
  const file = join(dir, `filler-${Date.now()}`);
  const fd = openSync(file, 'w');
  const big = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, big);
  } catch { /* ENOSPC */ }
  try {
    for (;;) writeSync(fd, big.subarray(0, 512));
  } catch { /* ENOSPC */ }
  closeSync(fd);
  return file;
}

async function chat(tg: Tollgate, stream = false): Promise<{ status: number; text: string; id: string }> {
  const r = await fetch(`${tg.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 50, stream }),
  });
  return { status: r.status, text: await r.text(), id: r.headers.get('x-tollgate-request-id') ?? '' };
}

const ready = (tg: Tollgate) => fetch(`${tg.url}/readyz`).then((r) => r.status);

async function waitFor(cond: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return cond();
}

describe('a full ledger disk', () => {
  it('refuses calls before they reach the provider, alerts, and resumes by itself when space returns', async (t) => {
    if (!disk) return t.skip();
    const dataDir = join(mountPoint, 'a');
    mkdirSync(dataDir, { recursive: true });
    const tg = await startTollgate({
      providers: providers(mock.url), customers, shutdownGrace: '5s',
      ledger: { minFreeBytes: 1024 * 1024 },
      alerts: { channels: [{ name: 'ops', type: 'webhook', url: hookUrl }] },
    }, { clockStart: TEST_CLOCK, dataDir });
    try {
      expect((await chat(tg)).status).toBe(200);
      const filler = fill(mountPoint);
      expect(await waitFor(async () => (await ready(tg)) === 503, 5_000)).toBe(true);
      mock.reset({ keepBehavior: true });
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(tg, i % 2 === 1)));
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(503));
      expect(JSON.parse(answers[0]!.text).error.type).toBe('ledger_unavailable');
      expect(JSON.parse(answers[0]!.text).error.message).toMatch(/cannot record usage/);
      expect(mock.stats().requests).toBe(0);
      expect(await tg.adminText('/metrics')).toMatch(/^tollgate_ledger_healthy 0$/m);
      expect(await waitFor(() => alerts.some((a) => a.event === 'ledger_unavailable'), 5_000)).toBe(true);
      expect(tg.logs()).toMatch(/ledger unavailable/);

      unlinkSync(filler);
      expect(await waitFor(async () => (await ready(tg)) === 200, 5_000)).toBe(true);
      expect((await chat(tg)).status).toBe(200);
      expect(await tg.adminText('/metrics')).toMatch(/^tollgate_ledger_healthy 1$/m);
      expect(await waitFor(() => alerts.some((a) => a.event === 'ledger_recovered'), 5_000)).toBe(true);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
    expect(tg.logs()).not.toMatch(/unhandled rejection/i);
  }, 60_000);

  it('holds the answer of a call whose commit failed until the row is written, and its spend survives a restart', async (t) => {
    if (!disk) return t.skip();
    const dataDir = join(mountPoint, 'b');
    mkdirSync(dataDir, { recursive: true });
    // No free-space margin: the commit itself is what fails.
    const tg = await startTollgate({ providers: providers(mock.url), customers, shutdownGrace: '5s', ledger: { minFreeBytes: 0, commitTimeout: '20s' } }, { clockStart: TEST_CLOCK, dataDir, shards: 1 });
    let filler = '';
    let allowed = 0;
    try {
      // Full before the first call: a journal segment that has taken a row is kept zero-filled up to
      // 1 MiB ahead (journal.ts), where rows still fit on a full disk, and LMDB's write-behind would
      // then fail first (admission stops, nothing is held). The new segment a start leaves is empty.
      filler = fill(mountPoint);
      mock.reset({ keepBehavior: true });
      // The disk may still have room for a few rows (a full tmpfs refuses only new pages): calls
      // answered until it is full must be durable in the journal; the first whose row cannot be
      // written must not be answered, streamed or not.
      const answered: { status: number; text: string; id: string }[] = [];
      let held: Promise<{ status: number; text: string; id: string }> | undefined;
      let heldIsStream = false;
      for (let i = 0; i < 40 && !held; i++) {
        const call = chat(tg, i % 2 === 1);
        const r = await Promise.race([call, sleep(2_000).then(() => undefined)]);
        if (r) answered.push(r);
        else { held = call; heldIsStream = i % 2 === 1; }
      }
      expect(held).toBeDefined();
      expect(answered.every((a) => a.status === 200)).toBe(true);
      const journal = readdirSync(join(dataDir, 'journal')).map((f) => readFileSync(join(dataDir, 'journal', f), 'latin1')).join('');
      for (const { id } of answered) expect(journal).toContain(id);
      // It reached the provider; its row cannot be written; admission stops.
      expect(await waitFor(async () => (await ready(tg)) === 503, 10_000)).toBe(true);
      const refused = await chat(tg);
      expect(refused.status).toBe(503);
      expect(mock.stats().requests).toBe(answered.length + 1);
      unlinkSync(filler);
      filler = '';
      const last = await held!;
      expect(last.status).toBe(200);
      if (heldIsStream) expect(last.text).toMatch(/\[DONE\]/);
      expect(await waitFor(async () => (await ready(tg)) === 200, 5_000)).toBe(true);
      allowed = answered.length + 1;
    } finally {
      if (filler) unlinkSync(filler);
      expect(await tg.stop()).toBe(0);
    }
    // The counters a restart seeds from the ledger include every call, the held one too.
    const again = await launch(tg.configFile, dataDir);
    try {
      const view = await again.admin('/admin/customers/acme');
      const { rows } = await again.admin('/admin/usage?customer=acme');
      expect(rows.filter((r: { decision: string }) => r.decision === 'allowed')).toHaveLength(allowed);
      const billed = rows.reduce((n: number, r: { cost_usd: number }) => n + r.cost_usd, 0);
      expect(view.budgets[0].used).toBeCloseTo(billed, 9);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 60_000);

  it('answers an error (not success) when the row cannot be committed in time, logs the unwritten rows at SIGTERM, and `ledger replay` puts them back', async (t) => {
    if (!disk) return t.skip();
    const dataDir = join(mountPoint, 'c');
    mkdirSync(dataDir, { recursive: true });
    const tg = await startTollgate({ providers: providers(mock.url), customers, shutdownGrace: '3s', ledger: { minFreeBytes: 0, commitTimeout: '2s' } }, { clockStart: TEST_CLOCK, dataDir, shards: 1 });
    const filler = fill(mountPoint);
    try {
      const [a, s] = await Promise.all([chat(tg), chat(tg, true)]);
      expect(a.status).toBe(503);
      expect(JSON.parse(a.text).error.type).toBe('ledger_unavailable');
      expect(s.text).not.toMatch(/\[DONE\]/);
      expect(s.text).toMatch(/"type":"ledger_unavailable"|ledger/);
      const started = Date.now();
      const code = await tg.stop();
      expect(Date.now() - started).toBeLessThan(3_000 + 8_000);
      expect(code).toBe(0);
      const logs = tg.logs();
      expect(logs.match(/ledger_unwritten_row/g)?.length).toBeGreaterThanOrEqual(2);
      expect(logs).toMatch(/usage rows could not be written/);
      expect(logs).not.toMatch(/unhandled rejection/i);
      expect(logs).not.toMatch(/hello there/); // rows carry usage, never prompts

      // Space back: the operator re-enters the logged rows, and budgets after a restart count them.
      unlinkSync(filler);
      const logFile = join(tempDir('tollgate-log-'), 'tollgate.log');
      writeFileSync(logFile, logs);
      const replay = () => execFileSync(process.execPath, [CLI, 'ledger', 'replay', '--config', tg.configFile, logFile], { encoding: 'utf8' });
      expect(replay()).toMatch(/replayed 2 rows/);
      expect(replay()).toMatch(/replayed 0 rows .*; 2 already in the ledger/);
      const again = await launch(tg.configFile, dataDir);
      try {
        const { rows } = await again.admin('/admin/usage?customer=acme');
        expect(rows.filter((r: { decision: string }) => r.decision === 'allowed')).toHaveLength(2);
        const view = await again.admin('/admin/customers/acme');
        expect(view.budgets[0].used).toBeCloseTo(rows.reduce((n: number, r: { cost_usd: number }) => n + r.cost_usd, 0), 9);
        expect(view.budgets[0].used).toBeGreaterThan(0);
      } finally {
        expect(await again.stop()).toBe(0);
      }
    } finally {
      if (existsSync(filler)) unlinkSync(filler);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('exits within its grace (plus a few seconds) on SIGTERM while a call waits for its commit, and that client gets an error', async (t) => {
    if (!disk) return t.skip();
    const dataDir = join(mountPoint, 'd');
    mkdirSync(dataDir, { recursive: true });
    const tg = await startTollgate({ providers: providers(mock.url), customers, shutdownGrace: '2s', ledger: { minFreeBytes: 0, commitTimeout: '60s' } }, { clockStart: TEST_CLOCK, dataDir, shards: 1 });
    const filler = fill(mountPoint);
    try {
      mock.reset({ keepBehavior: true });
      const waiting = chat(tg);
      expect(await waitFor(async () => (await ready(tg)) === 503, 10_000)).toBe(true);
      expect(mock.stats().requests).toBe(1);
      const started = Date.now();
      const code = await tg.stop();
      const took = Date.now() - started;
      expect(code).toBe(0);
      expect(took).toBeLessThan(2_000 + 6_000); // grace, then ~1 s to close a ledger that cannot sync
      const answer = await waiting;
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text).error.type).toBe('ledger_unavailable');
      expect(tg.logs()).toMatch(/ledger_unwritten_row/);
    } finally {
      unlinkSync(filler);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
