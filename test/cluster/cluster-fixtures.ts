import { Redis } from 'ioredis';
import { expectedCostUsd } from '../helpers/fixtures.js';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';

// Shared pieces of the cluster suites: nodes on one Redis, calls whose
// estimate equals their real cost, and readers for what Redis and each
// node's ledger say.

export const PROMPT = 40;
export const OUT = 20;
/** Twenty one-token words: the proxy's prompt estimate (an upper bound) is 40 tokens, what the mock reports. */
export const CONTENT = 'word '.repeat(20).trim();
export const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });
export const CALL_NANO = Math.round(CALL_USD * 1e9);

/** One after the other: three starting at once on a loaded two-core machine can each take longer than the start deadline. */
export async function startNodes(count: number, config: Record<string, unknown>, shards = 1): Promise<Tollgate[]> {
  const nodes: Tollgate[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startTollgate(config, { clockStart: TEST_CLOCK, shards }));
  return nodes;
}

export interface CallResult { status: number; node: number; requestId: string | null; type?: string }

/** One chat call of known cost on a node. */
export async function call(node: Tollgate, index: number, key: string, extra: Record<string, string> = {}): Promise<CallResult> {
  try {
    const r = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: CONTENT }], max_tokens: OUT }),
    });
    const body: any = await r.json().catch(() => null);
    return { status: r.status, node: index, requestId: r.headers.get('x-tollgate-request-id'), type: body?.error?.type };
  } catch {
    return { status: 0, node: index, requestId: null };
  }
}

export interface NodeLease { g: bigint; s: bigint; e: number }
export interface BudgetState { key: string; cap: bigint; nodes: Map<string, NodeLease>; spent: bigint; claims: bigint; now: number }

/** The lease hash of the one budget matching `pattern`, with claims evaluated as the script does. */
export async function budgetState(redis: Redis, pattern: string): Promise<BudgetState> {
  const keys = await redis.keys(pattern);
  if (keys.length !== 1) throw new Error(`expected one key for ${pattern}, found ${JSON.stringify(keys)}`);
  const key = keys[0]!;
  const h = await redis.hgetall(key);
  const [sec, usec] = await redis.time();
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const nodes = new Map<string, NodeLease>();
  for (const [f, v] of Object.entries(h)) {
    const m = /^([gse]):(.+)$/.exec(f);
    if (!m) continue;
    const n = nodes.get(m[2]!) ?? { g: 0n, s: 0n, e: 0 };
    if (m[1] === 'g') n.g = BigInt(v);
    else if (m[1] === 's') n.s = BigInt(v);
    else n.e = Number(v);
    nodes.set(m[2]!, n);
  }
  let spent = 0n;
  let claims = 0n;
  for (const n of nodes.values()) {
    spent += n.s;
    claims += n.g > n.s && n.e > now ? n.g : n.s;
  }
  return { key, cap: BigInt(h.cap ?? '0'), nodes, spent, claims, now };
}

/** Σ billed nano-USD of the allowed calls in a node's ledger, and how many there were. */
export async function ledgerTotals(node: Tollgate, customer: string): Promise<{ nano: number; calls: number; rows: any[] }> {
  const { rows } = await node.admin(`/admin/usage?customer=${customer}&limit=100000`);
  const allowed = rows.filter((r: any) => r.decision === 'allowed');
  return { nano: allowed.reduce((s: number, r: any) => s + Math.round(r.cost_usd * 1e9), 0), calls: allowed.length, rows };
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
