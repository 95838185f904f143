import { request } from 'undici';
import { join } from 'node:path';
import { open } from 'lmdb';
import { RECORDS } from '../../src/store/ledger.js';
import { CUSTOMER_KEY } from '../helpers/fixtures.js';

// Small helpers shared by the routing integration tests.

export const openaiProvider = (name: string, url: string, extra: Record<string, unknown> = {}) =>
  ({ name, type: 'openai', baseUrl: `${url}/v1`, apiKey: `sk-${name}`, ...extra });
export const anthropicProvider = (name: string, url: string, extra: Record<string, unknown> = {}) =>
  ({ name, type: 'anthropic', baseUrl: url, apiKey: `sk-${name}`, ...extra });

export const customer = { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10_000, unit: 'USD', period: 'month' }] };

export interface CallResult { status: number; text: string; requestId: string; retryAfter?: string }

/** One chat call through the proxy (a fresh body each time), read to the end. */
/** `fresh`: on a connection of its own (closed after), so the kernel picks its shard anew: kept-alive connections stay on theirs. */
export async function chat(url: string, model: string, opts: { stream?: boolean; extra?: Record<string, unknown>; fresh?: boolean } = {}): Promise<CallResult> {
  const r = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    reset: !!opts.fresh,
    headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello routing' }], max_tokens: 8, stream: !!opts.stream, ...opts.extra }),
  });
  const text = await r.body.text();
  return { status: r.statusCode, text, requestId: String(r.headers['x-tollgate-request-id'] ?? ''), retryAfter: r.headers['retry-after'] as string | undefined };
}

/** Runs `n` calls with `concurrency` in flight. */
export async function hammer<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

/** A complete, successful answer: JSON with a choice, or a stream that ended with [DONE]. */
export function answered(r: CallResult, stream: boolean): boolean {
  if (r.status !== 200) return false;
  if (stream) return r.text.includes('tok0') && r.text.trimEnd().endsWith('data: [DONE]');
  try {
    return JSON.parse(r.text).choices[0].message.content.startsWith('tok0');
  } catch {
    return false;
  }
}

/**
 * Usage rows as stored in the ledger, read straight from LMDB (a second,
 * read-only process-level reader is safe), to check what was persisted.
 */
export function storedRows(dataDir: string): any[] {
  const env = open({ path: join(dataDir, 'tollgate.lmdb'), readOnly: true, maxDbs: 16 });
  try {
    const db = env.openDB({ name: 'usage', ...RECORDS });
    return [...db.getRange({})].map((e) => e.value);
  } finally {
    void env.close();
  }
}
