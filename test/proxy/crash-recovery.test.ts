import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

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

describe('crash safety', () => {
  it('loses no row of a call a client saw finish when killed with -9 under 16 clients', async () => {
    tg = await startTollgate({
      providers: providers(mock.url),
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }, { limit: 10_000_000, unit: 'requests', period: 'total' }] }],
    }, { clockStart: TEST_CLOCK });
    const completed: string[] = [];
    let stop = false;
    const client = async (i: number) => {
      while (!stop) {
        const stream = i % 2 === 0;
        try {
          const r = await request(`${tg.url}/v1/chat/completions`, {
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
    // Kill by progress, not by the clock: a loaded machine completes far fewer
    // calls in a fixed window. 60 finished calls puts the kill well inside a
    // steady stream of calls in every stage; the deadline only catches a stall.
    const deadline = Date.now() + 60_000;
    while (completed.length < 60 && Date.now() < deadline) await sleep(10);
    await tg.kill9();
    stop = true;
    await Promise.all(clients);
    expect(completed.length).toBeGreaterThan(50);

    tg = await launch(tg.configFile, tg.dataDir);
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
  });
});
