import { randomBytes } from 'node:crypto';
import type { PriceTable } from '../pricing/price-table.js';
import { repriceRow, type RepriceSkip } from '../pricing/reprice.js';
import type { ResaleTerms } from '../pricing/resale.js';
import type { Ledger } from '../store/ledger.js';
import type { PriceAdjustment } from '../store/price-adjustments.js';
import type { UsageRecord } from '../store/usage-record.js';

// Re-rating (POST /admin/rerate, `tollgate rerate`): after a price correction, the usage rows of a
// period are priced again with the table as it is now (each at the price in force at its own
// timestamp) and the customer's resale terms; rows whose figures change get them in place, with
// their first figures kept on the row (`original_*`) and one audit entry each in the ledger's
// adjustments log; aggregates and report indexes move by the same deltas in the same transaction
// (Ledger.applyAdjustments). Idempotent: a second run finds every row already at its price.

export interface RerateRequest {
  from: number;
  to: number;
  customer?: string;
  model?: string;
  reason: string;
  actor: string;
}

export interface RerateDeps {
  ledger: Ledger;
  prices: PriceTable;
  /** The customer's resale terms (markup, custom price list), from the config in force. */
  resaleOf: (customer: string, agent: string | null) => ResaleTerms;
  /** Provider name on a row → its configured type (lookup hint for rows charged by the unknownModel rule). */
  providerType: (provider: string | null) => string | undefined;
  /** Called with each batch before it is committed (e.g. to bind the budget counters its rows' scopes use). */
  prepare?: (planned: readonly PriceAdjustment[]) => Promise<void> | void;
  /** Called with each committed batch, e.g. to move live budget counters of the current period. */
  onApplied?: (applied: readonly PriceAdjustment[]) => Promise<void> | void;
  now?: () => number;
}

export interface RerateResult {
  rerate_id: string;
  scanned: number;
  adjusted: number;
  unchanged: number;
  skipped: Partial<Record<RepriceSkip | 'changed_meanwhile', number>>;
  cost_delta_nano: number;
  billed_delta_nano: number;
}

/** Rows read and adjusted per transaction; the shard's event loop gets a turn between batches. */
const BATCH = 500;
const MAX_REASON = 500;

/** Validates a POST /admin/rerate body; a string is what is wrong with it. */
export function parseRerateRequest(body: unknown, actor: string): RerateRequest | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body: a JSON object { from, to, reason, customer?, model? }';
  const b = body as Record<string, unknown>;
  const time = (f: 'from' | 'to'): number | string => {
    const v = b[f];
    if (typeof v !== 'string' || !v) return `${f}: required, an ISO date or time`;
    const t = Date.parse(v);
    return Number.isNaN(t) ? `${f}: not an ISO date or time (got "${v.slice(0, 40)}")` : t;
  };
  const from = time('from');
  if (typeof from === 'string') return from;
  const to = time('to');
  if (typeof to === 'string') return to;
  if (to <= from) return 'to: must be later than from';
  if (typeof b.reason !== 'string' || b.reason.trim().length < 3) return 'reason: required, why the period is re-rated (it goes into the adjustments log)';
  if (b.reason.length > MAX_REASON) return `reason: at most ${MAX_REASON} characters`;
  for (const f of ['customer', 'model', 'actor'] as const) {
    if (b[f] !== undefined && (typeof b[f] !== 'string' || !b[f] || (b[f] as string).length > 200)) return `${f}: a non-empty string of at most 200 characters`;
  }
  return {
    from, to, reason: b.reason.trim(),
    ...(b.customer ? { customer: b.customer as string } : {}),
    ...(b.model ? { model: b.model as string } : {}),
    // The admin token is one shared secret: the caller may name who it is, under the API's name.
    actor: b.actor ? `${actor}:${b.actor as string}` : actor,
  };
}

const matchesModel = (row: UsageRecord, model: string | undefined) =>
  model === undefined || row.model === model || row.model_requested === model || row.price_source === model;

export async function rerate(deps: RerateDeps, req: RerateRequest): Promise<RerateResult> {
  const now = deps.now ?? Date.now;
  const result: RerateResult = {
    rerate_id: `rr_${now().toString(36)}_${randomBytes(4).toString('hex')}`,
    scanned: 0, adjusted: 0, unchanged: 0, skipped: {}, cost_delta_nano: 0, billed_delta_nano: 0,
  };
  const skip = (why: RepriceSkip | 'changed_meanwhile', n = 1) => { result.skipped[why] = (result.skipped[why] ?? 0) + n; };
  const resale = new Map<string, ResaleTerms>();
  let cursor: [number, string] | undefined;
  for (;;) {
    const batch: UsageRecord[] = [];
    for (const row of deps.ledger.rows({ customer: req.customer, from: req.from, to: req.to, cursor })) {
      batch.push(row);
      if (batch.length === BATCH) break;
    }
    if (!batch.length) break;
    const last = batch[batch.length - 1]!;
    cursor = [last.ts, last.request_id];
    const ts = now();
    const planned: PriceAdjustment[] = [];
    for (const row of batch) {
      if (!matchesModel(row, req.model)) continue;
      result.scanned++;
      const scope = `${row.customer}\u0000${row.agent ?? ''}`;
      let terms = resale.get(scope);
      if (!terms) resale.set(scope, (terms = deps.resaleOf(row.customer, row.agent)));
      const r = repriceRow(row, deps.prices, terms, deps.providerType(row.provider));
      if (typeof r === 'string') {
        skip(r);
        continue;
      }
      if (r.cost_nano === row.cost_nano && r.billed_nano === row.billed_nano) {
        result.unchanged++;
        continue;
      }
      planned.push({
        request_id: row.request_id, row_ts: row.ts, customer: row.customer, agent: row.agent, model: row.model,
        old_cost_nano: row.cost_nano, new_cost_nano: r.cost_nano, old_billed_nano: row.billed_nano, new_billed_nano: r.billed_nano,
        old_price_source: row.price_source, new_price_source: r.price_source,
        reason: req.reason, actor: req.actor, rerate_id: result.rerate_id, ts,
      });
    }
    if (planned.length) await deps.prepare?.(planned);
    const applied = await deps.ledger.applyAdjustments(planned);
    if (applied.length < planned.length) skip('changed_meanwhile', planned.length - applied.length);
    for (const a of applied) {
      result.adjusted++;
      result.cost_delta_nano += a.new_cost_nano - a.old_cost_nano;
      result.billed_delta_nano += a.new_billed_nano - a.old_billed_nano;
    }
    if (applied.length) await deps.onApplied?.(applied);
    if (batch.length < BATCH) break;
    await new Promise<void>((r) => setImmediate(r));
  }
  return result;
}
