import type { UsageQuery } from '../store/ledger.js';
import type { UsageRecord } from '../store/usage-record.js';
import { encodeCursor } from './usage-query.js';
import { rowMatches } from '../store/row-export.js';
import { dayWindow, isDay } from './report-query.js';

// One customer's usage rows with the dashboard's filters (model, agent,
// decision, date range). Rows are listed, so this reads the customer's rows
// in the range — through the customer index, lazily — and stops after a
// bounded number of rows so one request can never hold a shard for long;
// the cursor continues from where it stopped.

export interface UsageFilter {
  model?: string;
  agent?: string;
  decision?: 'allowed' | 'blocked';
}

export interface UsageSearch {
  query: UsageQuery & { customer: string };
  filter: UsageFilter;
  limit: number;
}

const MAX_LIMIT = 10_000;
/** Rows one JSON page may examine before it answers with a cursor. */
export const MAX_SCAN = 50_000;

export function parseUsageSearch(qs: URLSearchParams, timeZone: string, csv: boolean): UsageSearch | string {
  const customer = qs.get('customer');
  if (!customer) return 'customer: required';
  const query: UsageSearch['query'] = { customer };
  for (const f of ['from', 'to'] as const) {
    const v = qs.get(f);
    if (!v) continue;
    if (isDay(v)) {
      // A date means its whole day: `to` is inclusive.
      const w = dayWindow(v, timeZone);
      query[f] = f === 'from' ? w.start : w.end;
      continue;
    }
    const t = Date.parse(v);
    if (Number.isNaN(t)) return `${f}: not a date or ISO time (got "${v.slice(0, 40)}")`;
    query[f] = t;
  }
  const filter: UsageFilter = {};
  const model = qs.get('model');
  if (model) filter.model = model;
  const agent = qs.get('agent');
  if (agent) filter.agent = agent;
  const decision = qs.get('decision');
  if (decision) {
    if (decision !== 'allowed' && decision !== 'blocked') return `decision: allowed or blocked (got "${decision.slice(0, 20)}")`;
    filter.decision = decision;
  }
  const cursor = qs.get('cursor');
  if (cursor) {
    try {
      const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'string') throw new Error();
      query.cursor = [v[0], v[1]];
    } catch {
      return 'cursor: not a cursor this API returned';
    }
  }
  let limit = csv ? Infinity : 100;
  const raw = qs.get('limit');
  if (raw) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > (csv ? Number.MAX_SAFE_INTEGER : MAX_LIMIT)) return `limit: a whole number from 1 to ${csv ? 'any' : MAX_LIMIT} (got "${raw.slice(0, 20)}")`;
    limit = n;
  }
  return { query, filter, limit };
}

/** A JSON page: up to `limit` matching rows of `source` (the query's rows, oldest first), and a cursor when there may be more. */
export async function searchPage(source: Iterable<UsageRecord> | AsyncIterable<UsageRecord>, s: UsageSearch): Promise<{ rows: UsageRecord[]; next_cursor: string | null; scanned: number }> {
  const rows: UsageRecord[] = [];
  let scanned = 0;
  let last: UsageRecord | undefined;
  for await (const row of source) {
    if (rows.length === s.limit || scanned === MAX_SCAN) return { rows, next_cursor: encodeCursor(last!.ts, last!.request_id), scanned };
    scanned++;
    last = row;
    if (rowMatches(row, s.filter)) rows.push(row);
  }
  return { rows, next_cursor: null, scanned };
}
