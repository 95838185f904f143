import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { freshRequest } from '../helpers/fresh-request.js';
import { hammer as pooled } from '../routing/helpers.js';

// Issue 13, found at 100,000 customers: the first call of each new customer
// makes the supervisor seed the customer's budget slots from the ledger, and
// that read waited (Atomics.wait) for the write-behind to catch up with the
// journal. When the supervisor had an LMDB write transaction of its own
// pending at that moment (a key's last_used_at, a customer created through
// the API, an audit entry), lmdb-js held the write lock for that
// transaction's callback, which could not run on the blocked thread, and the
// writer waited for the lock: every such read stalled for the whole 2 s wait,
// and with a queue of new customers the process stopped answering.
// Here: new customers' first calls under load while the supervisor keeps
// writing (customers created meanwhile, last_used_at flushed every 20 ms).
// No read may give up waiting (tollgate_ledger_read_wait_timeouts_total).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const CUSTOMERS = 120;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 8, latencyMs: 5 });
  tg = await startTollgate({
    providers: providers(mock.url),
    control: { lastUsedFlush: '20ms' },
    plans: [{ name: 'base', budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 2 });
}, 120_000);

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const admin = (method: string, path: string, body?: unknown) => freshRequest(tg.port, method, path, { authorization: `Bearer ${ADMIN_TOKEN}` }, body);
const chat = (key: string) => freshRequest(tg.port, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}` }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });

const createCustomer = async (id: string) => {
  const r = await admin('POST', '/admin/customers', { id, plan: 'base', budgets: [{ limit: 20, unit: 'USD', period: 'month' }] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
};

describe('first calls of new customers while the supervisor writes', () => {
  it('every call is answered and no ledger read gives up waiting for the writer', async () => {
    const keys = await pooled(CUSTOMERS, 8, async (i) => {
      await createCustomer(`fresh-${i}`);
      const r = await admin('POST', `/admin/customers/fresh-${i}/keys`, { name: 'k' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.key as string;
    });

    // Writes on the supervisor all along: more customers (control store + audit), last_used_at every 20 ms.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) await createCustomer(`background-${written++}`);
    })();
    const statuses = await pooled(CUSTOMERS * 2, 24, async (i) => (await chat(keys[i % CUSTOMERS]!)).status);
    writing = false;
    await writer;

    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(written).toBeGreaterThan(0);
    const metrics = await tg.adminText('/metrics');
    const timeouts = Number(/^tollgate_ledger_read_wait_timeouts_total (\d+)$/m.exec(metrics)?.[1]);
    expect(timeouts).toBe(0);
    // Every call is in the ledger, each new customer's budget counted its own call.
    const c = await tg.admin(`/admin/customers/fresh-0`);
    expect(c.budgets.find((b: { source: string }) => b.source === 'customer').used).toBeGreaterThan(0);
  }, 180_000);
});
