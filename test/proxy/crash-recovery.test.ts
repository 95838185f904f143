import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// kill -9 under load, then restart on the same data directory: every call
// whose answer a client received whole has its usage row, and the budget
// counters rebuilt from the ledger equal the ledger's sum.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 8, latencyMs: 5, chunkDelayMs: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const customers = [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }, { limit: 10_000_000, unit: 'requests', period: 'total' }] }];

/** 16 clients calling until stopped; the ids of calls whose answer arrived whole. */
function load(target: () => Tollgate) {
  const completed: string[] = [];
  let stop = false;
  const client = async (i: number) => {
    while (!stop) {
      const stream = i % 2 === 0;
      try {
        const r = await request(`${target().url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call from client ${i}` }], stream }),
        });
        const text = await r.body.text();
        const id = r.headers['x-tollgate-request-id'] as string;
        // "Received whole": a 200 with the full JSON body, or a stream that reached [DONE].
        if (r.statusCode === 200 && (stream ? text.includes('data: [DONE]') : text.endsWith('}'))) completed.push(id);
      } catch {
        // connection cut by the kill: this call was not seen finishing
        await sleep(5);
      }
    }
  };
  const clients = Array.from({ length: 16 }, (_, i) => client(i));
  return { completed, stop: () => { stop = true; return Promise.all(clients); } };
}

/** After the restart: every call a client saw finish has its row, and the counters rebuilt from the ledger equal its sum. */
async function expectNothingLost(completed: string[]) {
  const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100000');
  const ids = new Set(rows.map((r: any) => r.request_id));
  const missing = completed.filter((id) => !ids.has(id));
  expect(missing).toEqual([]);

  const allowed = rows.filter((r: any) => r.decision === 'allowed');
  const ledgerUsd = allowed.reduce((s: number, r: any) => s + r.billed, 0);
  const view = await tg.admin('/admin/customers/acme');
  const usd = view.budgets.find((b: any) => b.unit === 'USD');
  const reqs = view.budgets.find((b: any) => b.unit === 'requests');
  expect(usd.used).toBeCloseTo(ledgerUsd, 8);
  expect(reqs.used).toBe(allowed.length);
  expect(usd.reserved).toBe(0);
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('crash safety', () => {
  it('loses no row of a call a client saw finish when killed with -9 under 16 clients', async () => {
    tg = await startTollgate({ providers: providers(mock.url), customers }, { clockStart: TEST_CLOCK });
    const run = load(() => tg);
    // Kill by progress, not by the clock: a loaded machine completes far fewer
    // calls in a fixed window. 60 finished calls puts the kill well inside a
    // steady stream of calls in every stage; the deadline only catches a stall.
    const deadline = Date.now() + 60_000;
    while (run.completed.length < 60 && Date.now() < deadline) await sleep(10);
    await tg.kill9();
    await run.stop();
    expect(run.completed.length).toBeGreaterThan(50);

    tg = await launch(tg.configFile, tg.dataDir);
    await expectNothingLost(run.completed);
    // The next test starts its own: this one must not outlive the file (afterAll stops only the last).
    expect(await tg.stop()).toBe(0);
  });

  it('loses nothing and charges nothing twice when killed while rows durable in the journal are not yet in LMDB', async () => {
    tg = await startTollgate({ providers: providers(mock.url), customers }, { clockStart: TEST_CLOCK });
    const run = load(() => tg);
    const deadline = Date.now() + 60_000;
    while (run.completed.length < 40 && Date.now() < deadline) await sleep(10);
    // Kill the moment the write-behind lags the journal (rows acknowledged, LMDB not yet written).
    let lagging = false;
    while (!lagging && Date.now() < deadline) {
      const m = await tg.adminText('/metrics');
      lagging = metric(m, 'tollgate_ledger_journal_rows_total') > metric(m, 'tollgate_ledger_lmdb_rows_total');
    }
    await tg.kill9();
    await run.stop();
    expect(lagging).toBe(true);

    tg = await launch(tg.configFile, tg.dataDir);
    expect(tg.logs()).toMatch(/ledger journal replayed into LMDB/);
    await expectNothingLost(run.completed);
    // A clean stop writes everything behind and leaves the journal empty.
    expect(await tg.stop()).toBe(0);
    const journal = join(tg.dataDir, 'journal');
    expect(readdirSync(journal).map((f) => statSync(join(journal, f)).size)).toEqual([0]);
  });
});
