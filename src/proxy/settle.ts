import type { Reservation } from '../budget/reservations.js';
import { settleRates, type RateHold } from '../policy/velocity.js';
import type { PriceMatch } from '../pricing/price-table.js';
import type { ResaleTerms } from '../pricing/resale.js';
import type { CallUsage, ParsedCall } from '../protocols/call.js';
import type { ReportedUsage } from '../protocols/usage-from-body.js';
import type { Target } from '../routing/route-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import { billedUsage, outputCeiling, ownCount, providerUsage, type BilledUsage, type Relayed, type UsageLimits } from './billed-usage.js';
import { billedPico } from '../pricing/resale.js';
import { costOf, picoToNano, priceOf } from './call-pricing.js';
import { meterUsage } from './metering.js';
import type { ShardContext } from './shard-context.js';

// The end of a call that reached the provider: decide the usage to bill
// (billed-usage.ts), price it on the model that answered (the answer's own
// model name when it costs at least the target's, else the target's), replace the hold with the actual
// amounts on every budget and velocity window, and fill the row.

export interface SettleState {
  readonly ctx: ShardContext;
  readonly requestId: string;
  /** performance.now() at the start of the call, for the row's latency. */
  readonly t0: number;
  readonly reservation: Reservation | undefined;
  readonly rateHolds: readonly RateHold[];
  readonly resale: ResaleTerms;
  /** The output cap the budget lowered the call to, if it did. */
  readonly clamped: number | undefined;
  /** Earlier attempts that reached a provider and failed unanswered (upstream-attempts.ts `sentFailed`): their prompts are billed with the call. */
  readonly failedAttempts?: readonly Target[];
}

/**
 * Returns the call's cost in nano-USD: at once when the provider's usage is
 * taken as it is and no earlier attempt is billed with the call (nearly every
 * call: no promise on its path), else once our own count is done.
 */
export function billCall(s: SettleState, row: UsageRecord, call: ParsedCall, target: Target, answeredModel: string | undefined, reported: ReportedUsage | undefined, relayed: Relayed, complete: boolean): number | Promise<number> {
  const { ctx } = s;
  const entry = priceOf(ctx.prices, target.model, target.provider.type, undefined, target.priceAs)?.entry;
  const cap = s.clamped ?? call.maxOutputTokens ?? entry?.max_output_tokens;
  const limits = { maxPrompt: entry?.max_input_tokens, maxOutput: outputCeiling(call, cap) };
  const direct = providerUsage(reported, limits, complete);
  if (direct && !s.failedAttempts?.length) {
    noteBilled(s, row, call, target, direct, complete);
    return settleUsage(s, row, target, answeredModel, direct.usage, undefined);
  }
  return billCounted(s, row, call, target, answeredModel, reported, relayed, complete, limits, direct);
}

async function billCounted(s: SettleState, row: UsageRecord, call: ParsedCall, target: Target, answeredModel: string | undefined, reported: ReportedUsage | undefined, relayed: Relayed, complete: boolean, limits: UsageLimits, direct: BilledUsage | undefined): Promise<number> {
  const { ctx } = s;
  const billed = direct ?? await billedUsage((texts) => ctx.tokens.count(target.model, texts), call, reported, relayed, limits, complete);
  noteBilled(s, row, call, target, billed, complete);
  const extra = s.failedAttempts?.length ? await unansweredPrompts(s, row, call, s.failedAttempts) : undefined;
  return settleUsage(s, row, target, answeredModel, billed.usage, extra);
}

/** The row's usage source, a usage the provider got wrong, and the forecast of uncapped calls. */
function noteBilled(s: SettleState, row: UsageRecord, call: ParsedCall, target: Target, billed: BilledUsage, complete: boolean): void {
  const { ctx } = s;
  row.usage_source = billed.source;
  if (billed.invalid) flagInvalidUsage(s, row, target, billed.invalid);
  if (billed.source !== 'provider') ctx.metrics.prom.usageFallbacks.inc({ source: billed.source });
  // What uncapped calls really use, for the next ones' holds (a capped, clamped or cut answer says nothing about that).
  if (complete && call.maxOutputTokens === undefined && s.clamped === undefined) ctx.forecast.record(row.customer, call.model, billed.usage.completionTokens / call.choices);
}

interface ExtraCharge { pico: number; billedPico: number; tokens: number }

/**
 * Prompts of attempts that reached a provider and got no answer before the
 * call moved on: the provider may have run (and charged) them, so each is
 * billed at its own target's price, counted like an unanswered call's prompt.
 */
async function unansweredPrompts(s: SettleState, row: UsageRecord, call: ParsedCall, targets: readonly Target[]): Promise<ExtraCharge> {
  const { ctx } = s;
  const extra: ExtraCharge = { pico: 0, billedPico: 0, tokens: 0 };
  const notes: string[] = [];
  for (const t of targets) {
    const own = await ownCount((texts) => ctx.tokens.count(t.model, texts), call, { text: '', textComplete: true, bytes: 0 });
    const usage = { ...own.usage, completionTokens: 0 };
    const pico = costOf(priceOf(ctx.prices, t.model, t.provider.type, ctx.unknownPrice, t.priceAs, row.ts), usage).pico;
    extra.pico += pico;
    extra.billedPico += billedPico(s.resale, [row.model_requested, t.model], pico, usage);
    extra.tokens += usage.promptTokens;
    notes.push(`${t.id} ${usage.promptTokens} prompt tokens`);
  }
  row.reason = [row.reason, `billed_prompt_unanswered: ${notes.join(', ')}`].filter(Boolean).join('; ').slice(0, 500);
  return extra;
}

/** A request that may have reached the provider but got no answer (client gone, timeout): the provider may charge its prompt, so it is billed. */
export async function billUnanswered(s: SettleState, row: UsageRecord, call: ParsedCall, target: Target): Promise<void> {
  row.provider = target.provider.name;
  await billCall(s, row, call, target, undefined, undefined, { text: '', textComplete: true, bytes: 0 }, false);
}

function flagInvalidUsage(s: SettleState, row: UsageRecord, target: Target, detail: string): void {
  const { ctx } = s;
  row.reason = [row.reason, `invalid_provider_usage: ${detail}`].filter(Boolean).join('; ').slice(0, 500);
  ctx.metrics.prom.invalidUsage.inc({ provider: target.provider.name });
  ctx.log('warn', 'provider reported usage that cannot be true; billed from our own count', { request_id: s.requestId, provider: target.provider.name, model: target.model, detail });
  ctx.emit({ t: 'policy-event', kind: 'invalid_usage', customer: row.customer, agent: row.agent, detail: `${target.id} reported ${detail} for request ${s.requestId}; billed from Tollgate's own count` });
}

function settleUsage(s: SettleState, row: UsageRecord, target: Target, answeredModel: string | undefined, usage: CallUsage, extra: ExtraCharge | undefined): number {
  const { ctx } = s;
  const targetMatch = priceOf(ctx.prices, target.model, target.provider.type, ctx.unknownPrice, target.priceAs, row.ts);
  const answered: PriceMatch | undefined = answeredModel ? priceOf(ctx.prices, answeredModel, target.provider.type, undefined, undefined, row.ts) : undefined;
  // The answer's model name comes from the upstream (or is a client's name echoed back by a gateway):
  // it may raise the price (a dearer snapshot of an alias), never lower it below the target we sent to.
  const match = answered && costOf(answered, usage).pico >= costOf(targetMatch, usage).pico ? answered : targetMatch;
  row.model = answeredModel ?? target.model;
  const { actual } = meterUsage(ctx, row, match, usage, s.resale, [row.model_requested, answeredModel, target.model]);
  if (extra) {
    const nano = picoToNano(extra.pico);
    row.cost_nano += nano;
    row.billed_nano += picoToNano(extra.billedPico);
    actual.billedPico += extra.billedPico;
    actual.tokens += extra.tokens;
    ctx.metrics.recordSpend(row.customer, nano, extra.tokens, 0);
  }
  if (s.reservation && ctx.book.settle(s.reservation, actual) && s.rateHolds.length) settleRates(ctx.policyTables.windows, s.rateHolds, actual, Date.now());
  row.latency_ms = Math.round(performance.now() - s.t0);
  return row.cost_nano;
}
