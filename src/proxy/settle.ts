import type { Reservation } from '../budget/reservations.js';
import { settleRates, type RateHold } from '../policy/velocity.js';
import type { PriceMatch } from '../pricing/price-table.js';
import type { ResaleTerms } from '../pricing/resale.js';
import type { CallUsage } from '../protocols/call.js';
import type { Target } from '../routing/route-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import { priceOf } from './call-pricing.js';
import { meterUsage } from './metering.js';
import type { ShardContext } from './shard-context.js';

// The end of an answered call: price it on the model that answered (the
// answer's own model name first, else the target's), replace the hold with
// the actual amounts on every budget and velocity window, fill the row.

export interface Hold {
  reservation: Reservation;
  rateHolds: readonly RateHold[];
  resale: ResaleTerms;
}

/** Returns the call's cost in nano-USD. */
export function settleCall(ctx: ShardContext, row: UsageRecord, hold: Hold, target: Target, answeredModel: string | undefined, usage: CallUsage, now: number): number {
  let match: PriceMatch | undefined = answeredModel ? priceOf(ctx.prices, answeredModel, target.provider.type) : undefined;
  match ??= priceOf(ctx.prices, target.model, target.provider.type, ctx.unknownPrice);
  row.model = answeredModel ?? target.model;
  const { actual } = meterUsage(ctx, row, match, usage, hold.resale, [row.model_requested, answeredModel, target.model]);
  if (ctx.book.settle(hold.reservation, actual) && hold.rateHolds.length) settleRates(ctx.policyTables.windows, hold.rateHolds, actual, now);
  return row.cost_nano;
}
