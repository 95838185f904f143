import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, launch, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { freshRequest } from '../helpers/fresh-request.js';

// A key's own budget is a limit the operator sold ("this endpoint gets 3
// calls a day"): a restart must not hand it out again. Usage rows name the
// key and the ledger keeps a per-key aggregate, so the key's counter is
// seeded from the ledger like the customer's (it used to start from 0).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 10 });
  tg = await startTollgate({ providers: providers(mock.url) }, { clockStart: TEST_CLOCK, shards: 2 });
}, 120_000);

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const admin = (method: string, path: string, body?: unknown) => freshRequest(tg.port, method, path, { authorization: `Bearer ${ADMIN_TOKEN}` }, body);
const chat = (key: string) => freshRequest(tg.port, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}` }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });

describe('a key budget across a restart', () => {
  it('a key worth 3 calls a day that spent 2 allows 1 more after a restart; the drift check agrees with its counter', async () => {
    expect((await admin('POST', '/admin/customers', { id: 'acme', budgets: [{ limit: 100, unit: 'requests', period: 'day' }] })).status).toBe(201);
    const issued = await admin('POST', '/admin/customers/acme/keys', { name: 'endpoint', budgets: [{ limit: 3, unit: 'requests', period: 'day' }] });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const { key, key_id: keyId } = issued.body as { key: string; key_id: string };
    expect((await chat(key)).status).toBe(200);
    const second = await chat(key);
    expect(second.status).toBe(200);
    // Its row is in the ledger before the stop (SIGTERM drains too).
    await tg.usageRow('acme', String(second.headers['x-tollgate-request-id']));

    await tg.stop();
    tg = await launch(tg.configFile, tg.dataDir);

    // 2 spent of 3: exactly one more today, however many try at once.
    const after = await Promise.all(Array.from({ length: 6 }, () => chat(key)));
    expect(after.map((c) => c.status).sort()).toEqual([200, 402, 402, 402, 402, 402]);
    expect(after.find((c) => c.status === 402)!.body.error.scope).toMatchObject({ source: 'key', key_id: keyId, limit: 3 });
    // The drift check sums the rows naming the key: its counter agrees (settles land just after their answers).
    let entry: { status: string; counter: number; ledger: number } | undefined;
    for (let i = 0; i < 50 && entry?.status !== 'ok'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      const drift = await tg.admin('/admin/budgets/drift?all=true');
      entry = drift.budgets.find((b: { key_id?: string }) => b.key_id === keyId);
    }
    expect(entry).toMatchObject({ status: 'ok', counter: 3, ledger: 3 });
  }, 120_000);
});
