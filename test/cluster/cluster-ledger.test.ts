import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { CLI, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { describeWithPostgres, startPostgres, type PostgresProcess } from '../helpers/postgres-process.js';
import { call, OUT, PROMPT, waitFor } from './cluster-fixtures.js';

// Two nodes, one PostgreSQL (ledger.postgres): every call served by either
// node appears exactly once in either node's usage listing, CSV export,
// reports and customer list; calls served while the database is down appear
// once it is back; a node killed mid-shipping and restarted doubles nothing.

const run = promisify(execFile);
let pgServer: PostgresProcess;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];
let config: Record<string, unknown>;
const MONTH = new Date(TEST_CLOCK).toISOString().slice(0, 7);
/** Request ids of every call answered 200 so far. */
const served: string[] = [];

async function callMany(n: number, offset: number): Promise<void> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => call(nodes[(offset + i) % 2]!, (offset + i) % 2, CUSTOMER_KEY, {
    'x-tollgate-agent': `agent-${(offset + i) % 3}`, 'x-tollgate-tags': `team=t${(offset + i) % 2}`,
  })));
  expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
  served.push(...results.map((r) => r.requestId!));
}

async function usageIds(node: Tollgate): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '';
  // Small pages: the cursor must walk the cluster's rows without skipping or repeating one.
  for (;;) {
    const page = await node.admin(`/admin/usage?customer=acme&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...page.rows.map((r: any) => r.request_id));
    if (!page.next_cursor) return ids;
    cursor = page.next_cursor;
  }
}

/** Waits until `node` lists exactly the calls served so far, and checks every view of them there. */
async function expectClusterView(node: Tollgate): Promise<void> {
  const want = [...served].sort();
  await waitFor(async () => (await usageIds(node)).length >= want.length, 30_000, 200);
  const ids = await usageIds(node);
  expect([...ids].sort()).toEqual(want); // each once
  const csv = (await node.adminText('/admin/usage?customer=acme&format=csv')).trim().split('\n');
  expect(csv).toHaveLength(want.length + 1);
  expect(csv.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(want);
  const daily = await node.admin(`/admin/reports/daily?customer=acme&from=${MONTH}-01&to=${MONTH}-30`);
  expect(daily.days.reduce((s: number, d: any) => s + d.calls, 0)).toBe(want.length);
  const monthly = await node.admin(`/admin/reports/monthly?customer=acme&month=${MONTH}`);
  expect(monthly.totals.calls).toBe(want.length);
  expect(monthly.totals.prompt_tokens).toBe(want.length * PROMPT);
  expect(monthly.by_agent.reduce((s: number, a: any) => s + a.calls, 0)).toBe(want.length);
  expect(monthly.by_tag.reduce((s: number, t: any) => s + t.calls, 0)).toBe(want.length);
  const customers = await node.admin(`/admin/reports/customers?month=${MONTH}`);
  expect(customers.customers.find((c: any) => c.customer === 'acme').calls).toBe(want.length);
  const list = await node.admin('/admin/customers');
  expect(list.customers.find((c: any) => c.id === 'acme').month.calls).toBe(want.length);
}

describeWithPostgres('two nodes, one cluster ledger in PostgreSQL', () => {
  beforeAll(async () => {
    pgServer = await startPostgres();
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 5 });
    config = {
      providers: providers(mock.url),
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
      ledger: { postgres: pgServer.url, shipping: { interval: '50ms', sweep: '500ms', maxBackoff: '500ms', batchRows: 5 } },
    };
    // One after the other: two cold starts at once on a busy two-core machine can pass the start timeout.
    for (let i = 0; i < 2; i++) nodes.push(await startTollgate(config, { clockStart: TEST_CLOCK, shards: 1 }));
  });

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await mock?.close();
    await pgServer?.destroy();
  });

  it('lists 50 calls split over two nodes once each on either node: usage, CSV, reports, customer list', async () => {
    await callMany(50, 0);
    await expectClusterView(nodes[0]!);
    await expectClusterView(nodes[1]!);
  });

  it('serves a row from PostgreSQL as the node that served the call has it locally, field for field', async () => {
    const local = await run(process.execPath, [CLI, 'report', 'export', '--config', nodes[1]!.configFile, '--local', '--customer', 'acme', '--no-progress'], { encoding: 'utf8' });
    const cluster = await run(process.execPath, [CLI, 'report', 'export', '--config', nodes[1]!.configFile, '--customer', 'acme', '--no-progress'], { encoding: 'utf8' });
    const localLines = local.stdout.trim().split('\n');
    const clusterLines = new Set(cluster.stdout.trim().split('\n'));
    expect(localLines.length).toBe(26); // header + node 1's 25 calls
    expect(clusterLines.size).toBe(51);
    for (const line of localLines) expect(clusterLines.has(line)).toBe(true);
    // The CLI's reports read the cluster too; --local, this node's half.
    const monthly = async (...extra: string[]) => JSON.parse((await run(process.execPath, [CLI, 'report', 'monthly', '--config', nodes[1]!.configFile, '--customer', 'acme', '--month', MONTH, '--format', 'json', ...extra], { encoding: 'utf8' })).stdout);
    expect((await monthly()).totals.calls).toBe(50);
    expect((await monthly('--local')).totals.calls).toBe(25);
    // And the JSON row equals the CSV fields through the API on the other node.
    const json = (await nodes[0]!.admin('/admin/usage?customer=acme&limit=100')).rows.find((r: any) => r.request_id === localLines[1]!.split(',')[0]);
    expect(json).toMatchObject({ customer: 'acme', agent: expect.stringMatching(/^agent-/), tags: { team: expect.stringMatching(/^t[01]$/) }, prompt_tokens: PROMPT, completion_tokens: OUT, decision: 'allowed' });
  });

  it('keeps serving while PostgreSQL is down; the 10 calls served meanwhile appear once it is back, none twice', async () => {
    await pgServer.stop();
    await callMany(10, 0);
    const down = await fetch(`${nodes[0]!.url}/admin/usage?customer=acme`, { headers: { authorization: 'Bearer test-admin-token-123' } });
    expect(down.status).toBe(503);
    expect((await down.json()).error.type).toBe('cluster_ledger_unavailable');
    expect((await fetch(`${nodes[0]!.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${nodes[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_ledger_ship_lag_rows \d+/);
    await pgServer.start();
    await expectClusterView(nodes[0]!);
    await expectClusterView(nodes[1]!);
  });

  it('doubles nothing when a node is killed with rows not yet shipped and restarted', async () => {
    const victim = nodes[1]!;
    const before = served.length;
    // The database away while the calls are served: node 1 surely holds unshipped rows when it is killed.
    await pgServer.stop();
    await callMany(40, 1); // 20 on each node
    await victim.kill9();
    await pgServer.start();
    nodes[1] = await startTollgate(config, { clockStart: TEST_CLOCK, shards: 1, dataDir: victim.dataDir });
    expect(served.length).toBe(before + 40);
    await expectClusterView(nodes[0]!);
    await expectClusterView(nodes[1]!);
    const metrics = await (await fetch(`${nodes[1]!.url}/metrics`)).text();
    const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1]);
    // The restarted node shipped exactly its 20 rows left behind, and re-sent none it had shipped before the kill.
    expect(counter('tollgate_ledger_ship_rows_total')).toBe(20);
    expect(counter('tollgate_ledger_ship_duplicates_total')).toBe(0);
  });
});
