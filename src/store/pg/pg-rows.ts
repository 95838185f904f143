import type { UsageRecord } from '../usage-record.js';

// A usage row as tollgate_usage columns and back. Every field a report or a
// filter reads is a column of its own (SQL over the table is a feature);
// the fields most rows lack travel in `extra` as the row has them, so a row
// read back equals the row shipped, field for field.

type ColumnField = Exclude<keyof UsageRecord, 'session'> | 'session';

/** Row fields stored as columns, in insert order, with their SQL array type. */
const COLUMNS: readonly (readonly [ColumnField, string])[] = [
  ['customer', 'text'], ['ts', 'timestamptz'], ['request_id', 'text'], ['agent', 'text'], ['session', 'text'], ['tags', 'jsonb'],
  ['endpoint', 'text'], ['model_requested', 'text'], ['model', 'text'], ['provider', 'text'],
  ['prompt_tokens', 'bigint'], ['completion_tokens', 'bigint'], ['cached_tokens', 'bigint'], ['cache_write_tokens', 'bigint'],
  ['cost_nano', 'bigint'], ['billed_nano', 'bigint'], ['decision', 'text'], ['reason', 'text'], ['status', 'integer'],
  ['latency_ms', 'double precision'], ['idempotency_key', 'text'], ['price_source', 'text'], ['usage_source', 'text'],
];
const COLUMN_SET = new Set<string>(COLUMNS.map(([f]) => f));
const INTEGER_COLUMNS = COLUMNS.filter(([, t]) => t === 'bigint').map(([f]) => f);

/**
 * One statement for a whole batch: one array parameter per column (the
 * statement's text and parameter count do not grow with the batch), rows
 * already there skipped. RETURNING names the rows this statement inserted:
 * only those are added to the aggregates.
 */
export const INSERT_ROWS = `INSERT INTO tollgate_usage (${COLUMNS.map(([f]) => f).join(', ')}, extra, node)
  SELECT *, $${COLUMNS.length + 2}::text FROM unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}, $${COLUMNS.length + 1}::jsonb[])
  ON CONFLICT DO NOTHING
  RETURNING request_id`;

/** The parameters of INSERT_ROWS for `rows` shipped by `node`. */
export function insertParams(rows: readonly UsageRecord[], node: string): unknown[] {
  const params: unknown[] = COLUMNS.map(([field, type]) => rows.map((r) => {
    const v = (r as unknown as Record<string, unknown>)[field];
    if (field === 'ts') return new Date(v as number).toISOString();
    if (type === 'jsonb') return JSON.stringify(v ?? {});
    return v ?? null;
  }));
  params.push(rows.map((r) => {
    const extra: Record<string, unknown> = {};
    let any = false;
    for (const k in r) {
      if (COLUMN_SET.has(k)) continue;
      extra[k] = (r as unknown as Record<string, unknown>)[k];
      any = true;
    }
    return any ? JSON.stringify(extra) : null;
  }));
  params.push(node);
  return params;
}

/** The columns a reader selects (everything the row needs). */
export const ROW_COLUMNS = `${COLUMNS.map(([f]) => f).join(', ')}, extra`;

/** A tollgate_usage row (as node-postgres returns it: bigint as string, timestamptz as Date) back as the row that was shipped. */
export function fromPgRow(r: Record<string, unknown>): UsageRecord {
  const row: Record<string, unknown> = {};
  for (const [field] of COLUMNS) row[field] = r[field];
  row.ts = (r.ts as Date).getTime();
  for (const f of INTEGER_COLUMNS) row[f] = Number(r[f]);
  // Rows written before sessions existed have no `session` field; the public row reads both as null.
  if (row.session === null) delete row.session;
  if (r.extra) Object.assign(row, r.extra);
  return row as unknown as UsageRecord;
}
