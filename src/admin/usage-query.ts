import type { UsageQuery } from '../store/ledger.js';

// Parses /admin/usage query parameters into a ledger query, or an error message.

export interface UsageRequest {
  query: UsageQuery;
  limit: number;
  csv: boolean;
}

const MAX_LIMIT = 1_000_000;

export function parseUsageRequest(qs: URLSearchParams, csv: boolean): UsageRequest | string {
  const query: UsageQuery = {};
  const customer = qs.get('customer');
  if (customer) query.customer = customer;
  for (const f of ['from', 'to'] as const) {
    const v = qs.get(f);
    if (!v) continue;
    const t = Date.parse(v);
    if (Number.isNaN(t)) return `${f}: not an ISO date or time (got "${v.slice(0, 40)}")`;
    query[f] = t;
  }
  const cursor = qs.get('cursor');
  if (cursor) {
    const c = decodeCursor(cursor);
    if (!c) return 'cursor: not a cursor this API returned';
    query.cursor = c;
  }
  const limitRaw = qs.get('limit');
  let limit = csv ? Infinity : 1000;
  if (limitRaw) {
    const n = Number(limitRaw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) return `limit: a whole number from 1 to ${MAX_LIMIT} (got "${limitRaw.slice(0, 20)}")`;
    limit = n;
  }
  return { query, limit, csv };
}

export function encodeCursor(ts: number, requestId: string): string {
  return Buffer.from(JSON.stringify([ts, requestId])).toString('base64url');
}

function decodeCursor(s: string): [number, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    /* fall through */
  }
  return undefined;
}
