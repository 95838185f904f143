// A usage row as stored: integer money (nano-USD), ms timestamps. Converted
// to the public shape (docs/interface.md: cost_usd, ISO ts) only at the edges.

/** `reason` of a served call a shadow budget (enforce: false) would have refused. */
export const SHADOW_REASON = 'shadow_budget_exceeded';

export interface UsageRecord {
  request_id: string;
  ts: number;
  customer: string;
  agent: string | null;
  /** x-tollgate-session (or a monitoring body's `session`); absent on rows written before sessions existed. */
  session?: string | null;
  /** The issued key (control plane) that made the call; absent for config-file and app keys (and rows written before). */
  key_id?: string;
  tags: Record<string, string>;
  endpoint: string;
  model_requested: string | null;
  model: string | null;
  provider: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  /** The 1-hour part of cache_write_tokens (absent on rows written before re-rating existed: split unknown). */
  cache_write_1h_tokens?: number;
  cost_nano: number;   // what the provider charges, nano-USD
  billed_nano: number; // what the customer is charged, nano-USD
  decision: 'allowed' | 'blocked';
  reason: string | null;
  status: number;
  latency_ms: number;
  idempotency_key: string | null;
  price_source: string | null; // table id the price came from, 'unknown' when unpriced
  usage_source: 'provider' | 'tokenizer' | 'estimate' | 'reported' | 'request' | null;
  /** A shadow budget (enforce: false) would have refused this call; it was served. Reports count these. */
  shadow_exceeded?: boolean;
  /** Calls billed per unit (images, speech, audio): what was billed, e.g. 3 image, 1000 character, 30 second. */
  unit?: 'image' | 'character' | 'second';
  units?: number;
  /** Targets tried before the one that answered (or all of them, when none did). */
  attempts?: { target: string; error: string }[];
  /** Set by the first re-rate that changes the row (src/admin/rerate.ts): the figures the call was charged at. */
  original_cost_nano?: number;
  original_billed_nano?: number;
}

export interface PublicUsageRow {
  request_id: string; ts: string; customer: string; agent: string | null; session: string | null; tags: Record<string, string>;
  endpoint: string; model_requested: string | null; model: string | null; provider: string | null;
  prompt_tokens: number; completion_tokens: number; cached_tokens: number; cache_write_tokens: number;
  cost_usd: number; billed: number; decision: string; reason: string | null; status: number;
  latency_ms: number; idempotency_key: string | null; price_source: string | null; usage_source: string | null;
  attempts: { target: string; error: string }[];
  /** Only on re-rated rows: what the call was charged at before (cost_usd / billed are the corrected figures). */
  original_cost_usd?: number;
  original_billed?: number;
  /** Present on calls billed per unit only. */
  unit?: string;
  units?: number;
  /** Present on calls made with an issued key only. */
  key_id?: string;
}

export const nanoToUsd = (n: number): number => n / 1e9;

export function toPublicRow(r: UsageRecord): PublicUsageRow {
  return {
    request_id: r.request_id,
    ts: new Date(r.ts).toISOString(),
    customer: r.customer,
    agent: r.agent,
    session: r.session ?? null,
    tags: r.tags,
    endpoint: r.endpoint,
    model_requested: r.model_requested,
    model: r.model,
    provider: r.provider,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    cached_tokens: r.cached_tokens,
    cache_write_tokens: r.cache_write_tokens,
    cost_usd: nanoToUsd(r.cost_nano),
    billed: nanoToUsd(r.billed_nano),
    decision: r.decision,
    reason: r.reason,
    status: r.status,
    latency_ms: r.latency_ms,
    idempotency_key: r.idempotency_key,
    price_source: r.price_source,
    usage_source: r.usage_source,
    attempts: r.attempts ?? [],
    ...(r.original_cost_nano !== undefined ? { original_cost_usd: nanoToUsd(r.original_cost_nano), original_billed: nanoToUsd(r.original_billed_nano ?? 0) } : {}),
    ...(r.unit ? { unit: r.unit, units: r.units ?? 0 } : {}),
    ...(r.key_id ? { key_id: r.key_id } : {}),
  };
}

export const CSV_COLUMNS = [
  'request_id', 'ts', 'customer', 'agent', 'tags', 'endpoint', 'model_requested', 'model', 'provider',
  'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'cost_usd', 'billed',
  'decision', 'reason', 'status', 'latency_ms', 'idempotency_key', 'price_source', 'usage_source',
  'session',
  // Appended (never inserted): readers of older exports keep their column positions.
  'unit', 'units',
  'key_id',
] as const;

export function csvLine(values: readonly unknown[]): string {
  let s = '';
  for (let i = 0; i < values.length; i++) {
    if (i) s += ',';
    s += csvField(values[i]);
  }
  return s + '\n';
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`).join(';') : String(v);
  // Cells starting with = + - @ TAB CR are formulas to spreadsheets: neutralise
  // every such cell whatever its type (tags are an object, ids strings); only a
  // finite number, which Tollgate computed itself, is written as it is.
  if (/^[=+\-@\t\r]/.test(s) && !(typeof v === 'number' && Number.isFinite(v))) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function publicRowToCsv(r: PublicUsageRow): string {
  return csvLine(CSV_COLUMNS.map((c) => r[c]));
}
