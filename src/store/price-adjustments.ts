// The re-rating audit log: one entry per usage row whose money a re-rate
// changed (src/admin/rerate.ts). Rows keep the figures they were first
// charged at (`original_*` on the row); this log keeps every step, with who
// ran it, why, and when. Stored in the ledger's `adjustments` db, keyed by
// [row ts, request id, adjusted at, re-rate id], so one period's adjustments are a range.

import { nanoToUsd } from './usage-record.js';

export interface PriceAdjustment {
  request_id: string;
  /** The adjusted row's timestamp (ms): with request_id, the row's key. */
  row_ts: number;
  customer: string;
  agent: string | null;
  model: string | null;
  old_cost_nano: number;
  new_cost_nano: number;
  old_billed_nano: number;
  new_billed_nano: number;
  old_price_source: string | null;
  new_price_source: string | null;
  reason: string;
  actor: string;
  rerate_id: string;
  /** When the adjustment was made (ms). */
  ts: number;
}

export type AdjustmentKey = [number, string, number, string];

export const adjustmentKey = (a: PriceAdjustment): AdjustmentKey => [a.row_ts, a.request_id, a.ts, a.rerate_id];

/** The public shape (GET /admin/rerate/adjustments): USD and ISO times, like usage rows. */
export function toPublicAdjustment(a: PriceAdjustment) {
  return {
    rerate_id: a.rerate_id,
    request_id: a.request_id,
    row_ts: new Date(a.row_ts).toISOString(),
    customer: a.customer,
    agent: a.agent,
    model: a.model,
    old_cost_usd: nanoToUsd(a.old_cost_nano),
    new_cost_usd: nanoToUsd(a.new_cost_nano),
    old_billed: nanoToUsd(a.old_billed_nano),
    new_billed: nanoToUsd(a.new_billed_nano),
    old_price_source: a.old_price_source,
    new_price_source: a.new_price_source,
    reason: a.reason,
    actor: a.actor,
    ts: new Date(a.ts).toISOString(),
  };
}
