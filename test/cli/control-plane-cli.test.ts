import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, CLI, TEST_CLOCK, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';

// `tollgate customers|keys|credits` run as users run them (the built CLI)
// against a real node: JSON in and out, readable tables, the API's own
// message and a non-zero exit on a refusal.

const READ_TOKEN = 'test-read-token-456';
// Each step spawns the CLI (a Node start, ~0.2 s CPU); on a loaded machine a dozen of them take a while.
const SPAWNING = { timeout: 240_000 };
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

interface Run { code: number | null; out: string; err: string }

/** The CLI against the test node; the token from TOLLGATE_ADMIN_TOKEN unless `env` says otherwise. */
function cli(args: string[], env: Record<string, string | undefined> = {}, stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args, '--url', tg.url], {
      env: { ...process.env, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      cwd: tempDir('tollgate-cli-'), // no tollgate.yaml here: nothing read from a stray config
      timeout: 30_000,
    }, (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out, err }));
    if (stdin !== undefined) child.stdin!.end(stdin);
    else child.stdin!.end();
  });
}

const json = async (args: string[]) => {
  const r = await cli([...args, '--json']);
  expect(r.err, r.err).not.toMatch(/^tollgate/m);
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
};

async function call(key: string): Promise<number> {
  const r = await fetch(`${tg.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }) });
  await r.arrayBuffer();
  return r.status;
}

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 40, completionTokens: 20 });
  tg = await startTollgate({
    providers: providers(mock.url),
    adminTokens: [{ name: 'viewer', token: READ_TOKEN, role: 'read' }],
    plans: [{ name: 'starter', budgets: [{ limit: 5, unit: 'USD', period: 'month' }] }, { name: 'pro', budgets: [{ limit: 50, unit: 'USD', period: 'month' }] }],
    exchangeRates: { GBP: 0.8 },
    customers: [{ id: 'credit-co', wallet: { currency: 'USD' } }], // config-file customers may be credited too
  }, { shards: 2, clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('tollgate customers', () => {
  it('creates, reads, lists, updates, disables and deletes a customer', SPAWNING, async () => {
    const created = await json(['customers', 'create', 'cli-co', '--plan', 'starter', '--budget', '20:USD:month', '--metadata', 'crm=C-17']);
    expect(created).toMatchObject({ id: 'cli-co' });
    expect((await tg.admin('/admin/customers/cli-co')).budgets.map((b: any) => [b.source, b.limit])).toEqual(expect.arrayContaining([['customer', 20], ['plan', 5]]));

    const table = await cli(['customers', 'get', 'cli-co']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^id\s+cli-co$/m);
    expect(table.out).toMatch(/^USD\s+month\s+20\s/m);

    const list = await cli(['customers', 'list', '--search', 'cli-']);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^id\s+plan\s+state/);
    expect(list.out).toMatch(/^cli-co\s+starter\s/m);

    await json(['customers', 'update', 'cli-co', '--plan', 'pro', '--budget', '30:USD:month']);
    expect((await tg.admin('/admin/customers/cli-co')).budgets.map((b: any) => [b.source, b.limit])).toEqual(expect.arrayContaining([['customer', 30], ['plan', 50]]));

    // JSON in: a body on stdin with the config file's shapes.
    const fromStdin = await cli(['customers', 'create', 'cli-json', '--data', '-', '--json'], {}, JSON.stringify({ budgets: [{ limit: 100, unit: 'tokens', period: 'day' }] }));
    expect(fromStdin.code).toBe(0);
    expect((await tg.admin('/admin/customers/cli-json')).budgets).toEqual([expect.objectContaining({ limit: 100, unit: 'tokens', period: 'day' })]);

    const key = (await cli(['keys', 'create', 'cli-json'])).out.trim();
    expect(await call(key)).toBe(200);
    const disabled = await cli(['customers', 'disable', 'cli-json']);
    expect(disabled.code).toBe(0);
    expect(disabled.out).toMatch(/disabled customer cli-json/);
    expect(await call(key)).not.toBe(200);
    expect((await cli(['customers', 'enable', 'cli-json'])).code).toBe(0);
    expect(await call(key)).toBe(200);

    const deleted = await cli(['customers', 'delete', 'cli-json']);
    expect(deleted.code).toBe(0);
    expect(await call(key)).toBe(401);
    // Its usage stays (GET /admin/customers/:id still shows a customer the ledger has seen); the customer itself is gone.
    const gone = await cli(['keys', 'list', 'cli-json']);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/^tollgate keys list: 404 not_found_error: no customer "cli-json"/m);
  });

  it('prints the API\'s message and exits 1 on a refusal; 2 naming the problem on a bad invocation', SPAWNING, async () => {
    const dup = await cli(['customers', 'create', 'cli-co']);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/^tollgate customers create: 409 customer_exists: .*cli-co/m);
    const badPlan = await cli(['customers', 'create', 'cli-bad', '--plan', 'nope']);
    expect(badPlan.code).toBe(1);
    expect(badPlan.err).toMatch(/plan/);
    const badUnit = await cli(['customers', 'create', 'cli-bad', '--budget', '10:dollars:month']);
    expect(badUnit.code).toBe(1);
    expect(badUnit.err).toMatch(/budgets\.0\.unit|budgets\[0\]\.unit/);
    expect((await fetch(`${tg.url}/admin/customers/cli-bad`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);

    const usage = await cli(['customers', 'create', 'x', '--budget', 'ten:USD:month']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--budget: LIMIT:UNIT:PERIOD/);
    expect((await cli(['customers', 'frobnicate'])).err).toMatch(/unknown sub-command "frobnicate"/);
    const tokenless = join(tempDir('tollgate-cli-'), 'tollgate.yaml');
    writeFileSync(tokenless, 'logLevel: warn\n');
    const noToken = await cli(['customers', 'list', '--config', tokenless], { TOLLGATE_ADMIN_TOKEN: undefined });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/no admin token/);

    const readOnly = await cli(['customers', 'create', 'cli-ro'], { TOLLGATE_ADMIN_TOKEN: READ_TOKEN });
    expect(readOnly.code).toBe(1);
    expect(readOnly.err).toMatch(/: 403 /);
    // A read token reads.
    expect((await cli(['customers', 'list', '--token', READ_TOKEN])).code).toBe(0);
  });
});

describe('tollgate keys', () => {
  it('issues a key that serves calls, lists it without its secret, and revokes it', SPAWNING, async () => {
    await json(['customers', 'create', 'key-co', '--budget', '10:USD:month']);
    const issued = await cli(['keys', 'create', 'key-co', '--name', 'ci']);
    expect(issued.code).toBe(0);
    const key = issued.out.trim();
    expect(key.split('\n')).toHaveLength(1); // only the key on stdout: KEY=$(tollgate keys create ...)
    expect(issued.err).toMatch(/shown only once/);
    expect(await call(key)).toBe(200);

    const list = await json(['keys', 'list', 'key-co']);
    expect(list.keys).toHaveLength(1);
    expect(list.keys[0]).toMatchObject({ name: 'ci' });
    expect(JSON.stringify(list)).not.toContain(key);
    const table = await cli(['keys', 'list', 'key-co']);
    expect(table.out).toMatch(new RegExp(`^${list.keys[0].key_id}\\s+ci\\s`, 'm'));

    const revoked = await cli(['keys', 'revoke', 'key-co', list.keys[0].key_id]);
    expect(revoked.code).toBe(0);
    expect(await call(key)).toBe(401);
    const again = await cli(['keys', 'revoke', 'key-co', 'no-such-key']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^tollgate keys revoke: 404 /m);
  });

  it('keeps `keys hash` working without a node', async () => {
    const r = await cli(['keys', 'hash', 'tg-some-key-123']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });
});

describe('tollgate credits', () => {
  it('tops up once per idempotency key, converts a currency, and shows balance and transactions', SPAWNING, async () => {
    const first = await json(['credits', 'add', 'credit-co', '10', '--idempotency-key', 'order-1', '--reference', 'order 1']);
    const repeat = await json(['credits', 'add', 'credit-co', '10', '--idempotency-key', 'order-1', '--reference', 'order 1']);
    expect(repeat.transaction_id).toBe(first.transaction_id);
    expect(repeat.balance).toMatchObject({ amount: 10, currency: 'USD' });

    const gbp = await cli(['credits', 'add', 'credit-co', '4', '--currency', 'GBP']);
    expect(gbp.code).toBe(0);
    expect(gbp.out).toMatch(/balance 15 USD/);
    expect(gbp.out).toMatch(/^idempotency key cli-[0-9a-f-]{36}$/m);

    const shown = await cli(['credits', 'show', 'credit-co']);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^balance 15 USD$/m);
    expect(shown.out.match(/\scredit\s/g)).toHaveLength(2);
    expect(shown.out).toMatch(/order 1/);

    const negative = await cli(['credits', 'add', 'credit-co', '-5']);
    expect(negative.code).toBe(1);
    expect(negative.err).toMatch(/amount/);
    const noRate = await cli(['credits', 'add', 'credit-co', '5', '--currency', 'JPY']);
    expect(noRate.code).toBe(1);
    expect(noRate.err).toMatch(/currency|JPY/);
    expect((await json(['credits', 'show', 'credit-co'])).balance.amount).toBe(15);
  });

  it('gives a key its own wallet (keys create --wallet) and tops it up with credits --key', SPAWNING, async () => {
    const issued = await cli(['keys', 'create', 'credit-co', '--name', 'endpoint', '--wallet', 'USD']);
    expect(issued.code, issued.err).toBe(0);
    const key = issued.out.trim();
    expect(await call(key)).toBe(402); // its own wallet is empty (the customer's has 15 USD)
    const keyId = (await json(['keys', 'list', 'credit-co'])).keys.find((k: any) => k.name === 'endpoint').key_id;
    const added = await cli(['credits', 'add', 'credit-co', '2', '--key', keyId, '--idempotency-key', 'k-1']);
    expect(added.code, added.err).toBe(0);
    expect(added.out).toContain(`to credit-co key ${keyId}`);
    expect(await call(key)).toBe(200);
    const shown = await json(['credits', 'show', 'credit-co', '--key', keyId]);
    expect(shown.key_id).toBe(keyId);
    expect(shown.credited.amount).toBe(2);
    expect(shown.balance.amount).toBeLessThan(2);
    expect((await json(['credits', 'show', 'credit-co'])).credited.amount).toBe(15);
  });
});

// A config file with only a token (no --url): the address comes from its listen section.
describe('tollgate customers with a config file', () => {
  it('finds the node and the token in the config', async () => {
    const dir = tempDir('tollgate-cli-');
    const config = join(dir, 'tollgate.yaml');
    writeFileSync(config, `listen: { host: 127.0.0.1, port: ${tg.port} }\nadminToken: ${ADMIN_TOKEN}\ndataDir: ${JSON.stringify(join(dir, 'data'))}\n`);
    const r = await new Promise<Run>((resolve) => execFile(process.execPath, [CLI, 'customers', 'get', 'cli-co', '--config', config, '--json'], { env: { ...process.env, TOLLGATE_ADMIN_TOKEN: '' } }, (e, out, err) => resolve({ code: e ? 1 : 0, out, err })));
    expect(r.err).toBe('');
    expect(JSON.parse(r.out).id).toBe('cli-co');
  });
});
