import type { BudgetRef } from '../budget/budget-ref.js';
import { costHeader } from './cost-header.js';
import type { ErrorType } from '../http/errors.js';
import { settleRates } from '../policy/velocity.js';
import type { PriceMatch } from '../pricing/price-table.js';
import { billedPico, type ResaleTerms } from '../pricing/resale.js';
import { imagePrice } from '../pricing/unit-price.js';
import { zeroUsage, type CallUsage, type ParsedCall } from '../protocols/call.js';
import type { MediaRequest } from '../protocols/media/media-call.js';
import type { Target } from '../routing/route-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import type { CallRun } from './call-run.js';
import { costOf } from './call-pricing.js';
import { meterUsage } from './metering.js';
import { tightestRemaining } from './refusal.js';
import type { SettleState } from './settle.js';
import type { ShardContext } from './shard-context.js';
import type { Answer } from './upstream-attempts.js';

// Calls billed per unit (images, speech, audio transcription/translation):
// the price entry for the request (an image's quality and size), what the
// call reserves, and what it is billed once answered. They go through the
// same admission, hold, ledger row and reports as token calls; only the
// quantities differ.
//
// - images: n images at the entry for quality/size ('auto': the dearest),
//   plus the prompt's UTF-8 bytes at the model's token input price (an upper
//   bound of its tokens) where it has one. Billed by the answer's token usage
//   when it reports one (GPT image models), else per image returned (at most n).
// - speech: the input's Unicode code points at the per-character price; exact
//   before the call, so reserved and billed the same.
// - audio: the seconds measured from the upload (audio-duration.ts), rounded
//   to the nearest whole second as OpenAI bills them (at least one). Billed on
//   the provider's reported duration when it is plausible: above 0 and within
//   what the bytes sent could hold (the file at 6 kbit/s, or the measured
//   length + 10 % + 1 s if more). A report longer than the header states is
//   believed (the client wrote the header, the provider charges what it
//   heard) and noted on the row; an implausible one bills the measured length.
//   A file that cannot be measured is refused unless the answer will state
//   its duration (verbose_json); it then reserves the file size at 6 kbit/s
//   (lower than any usable speech codec) and, if the answer states none after
//   all, is billed that bound: never $0. The overrun past the hold is thus at
//   most the file's 6 kbit/s length minus the measured one.
// - token-priced transcription models (gpt-4o-transcribe): the measured
//   seconds at AUDIO_TOKENS_PER_SECOND plus the model's output cap reserved;
//   billed on the reported tokens, else on that bound.

export type MediaUnit = 'image' | 'character' | 'second';

/** Reserve bound for audio-token models: OpenAI's audio input runs near 10 tokens a second; twice that is the bound. */
export const AUDIO_TOKENS_PER_SECOND = 20;
/** Bytes a second of the leanest audio a transcription accepts (6 kbit/s Opus), for files we cannot measure. */
const MIN_BYTES_PER_SECOND = 750;
/** Longest audio any provider transcribes in one call, with room: no reported duration above it is believed. */
const MAX_SECONDS = 24 * 3600;

export interface UnitBill {
  match: PriceMatch;
  usage: CallUsage;
  unit: MediaUnit;
  units: number;
  source: 'provider' | 'request' | 'estimate';
  /** A reported quantity that was not believed, for the row. */
  invalid?: string;
  /** A reported quantity that was believed though it disagrees with the request, for the row. */
  note?: string;
}

export type UnitQuote =
  | { ok: true; bill: UnitBill; reservePico: number; model: PriceMatch | undefined }
  | { ok: false; type: ErrorType; message: string };

/** OpenAI bills transcription per second, rounded to the nearest second; never less than one. */
const wholeSeconds = (s: number) => Math.max(1, Math.round(s));

/** The prices for a target's model, looked up by exact id (never a prefix or snapshot of another one). */
function pricesFor(ctx: ShardContext, target: Target) {
  const model = target.priceAs ?? target.model;
  const type = target.provider.type;
  const exact = (id: string) => {
    const m = ctx.prices.lookup(id, type);
    return m && (m.id === id || m.id === `${type}/${id}` || m.id.endsWith(`/${id}`) && m.via === 'exact') ? m : undefined;
  };
  return { model, exact, own: ctx.prices.lookup(model, type) };
}

/** What the call reserves on `target`, or why it cannot be priced (never $0). */
export function unitQuote(ctx: ShardContext, target: Target, media: MediaRequest): UnitQuote {
  const { model, exact, own } = pricesFor(ctx, target);
  const unpriced = (what: string): UnitQuote => ({ ok: false, type: 'model_not_priced', message: `model "${target.model}" has no ${what} in Tollgate's table, so this call cannot be charged; add it to pricing/overrides.json` });
  if (media.kind === 'images') {
    const match = imagePrice(exact, model, media.size, media.quality);
    if (!match) return unpriced(`per-image price for quality "${media.quality}" and size "${media.size}"`);
    const images = costOf(match, { ...zeroUsage(), images: media.n }).pico;
    const prompt = own?.entry.input ? costOf(own, { ...zeroUsage(), promptTokens: media.promptBytes }).pico : 0;
    return { ok: true, bill: { match, usage: { ...zeroUsage(), images: media.n }, unit: 'image', units: media.n, source: 'request' }, reservePico: images + prompt, model: own };
  }
  if (media.kind === 'speech') {
    if (!own?.entry.per_character) return unpriced('per-character price');
    const bill: UnitBill = { match: own, usage: { ...zeroUsage(), characters: media.characters }, unit: 'character', units: media.characters, source: 'request' };
    return { ok: true, bill, reservePico: costOf(own, bill.usage).pico, model: own };
  }
  let seconds = media.seconds;
  if (seconds === undefined) {
    if (!media.reportsDuration) return { ok: false, type: 'audio_duration_unknown', message: `cannot measure the duration of the uploaded audio (${media.unmeasured}), and the answer would not state it; send WAV, MP3, FLAC, Ogg (Vorbis, Opus) or M4A/MP4, or set response_format=verbose_json` };
    seconds = media.fileBytes / MIN_BYTES_PER_SECOND;
  }
  const secs = wholeSeconds(seconds);
  const source = media.seconds === undefined ? 'estimate' : 'request';
  if (own?.entry.per_second) {
    const bill: UnitBill = { match: own, usage: { ...zeroUsage(), seconds: secs }, unit: 'second', units: secs, source };
    return { ok: true, bill, reservePico: costOf(own, bill.usage).pico, model: own };
  }
  if (own?.entry.input) {
    const usage = { ...zeroUsage(), promptTokens: secs * AUDIO_TOKENS_PER_SECOND, completionTokens: own.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens };
    return { ok: true, bill: { match: own, usage, unit: 'second', units: secs, source: 'estimate' }, reservePico: costOf(own, usage).pico, model: own };
  }
  return unpriced('per-second or token price');
}

/** The hold: the quote resold on the scope's terms. */
export function unitReservation(resale: ResaleTerms, call: ParsedCall, quote: Extract<UnitQuote, { ok: true }>): CallAmounts {
  const u = quote.bill.usage;
  return { billedPico: billedPico(resale, resaleNames(u, [call.model, quote.bill.match.id]), quote.reservePico, u), tokens: u.promptTokens + u.completionTokens, requests: 1 };
}

/**
 * Custom resale prices are per token: applied to a per-unit quantity they
 * would bill $0, so a unit bill is resold by the markup only.
 */
function resaleNames(u: CallUsage, models: readonly (string | null | undefined)[]): readonly (string | null | undefined)[] {
  return u.images || u.seconds || u.characters ? [] : models;
}

/** Image output tokens no answer can exceed per image (gpt-image-1 high 1536x1024 is 6,240). */
const MAX_IMAGE_TOKENS = 10_000;

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** What the answer is billed: the quote, corrected by what the answer reports (see the rules above). */
export function unitBill(quote: UnitBill, media: MediaRequest, model: PriceMatch | undefined, json: any): UnitBill {
  if (!json || typeof json !== 'object') return quote;
  if (media.kind === 'images') {
    const u = json.usage;
    const input = count(u?.input_tokens);
    const output = count(u?.output_tokens);
    const n = Array.isArray(json.data) ? Math.min(json.data.length, media.n) : media.n;
    if (model?.entry.output && input !== undefined && output !== undefined && output > 0) {
      if (output > media.n * MAX_IMAGE_TOKENS || input > media.promptBytes + 100_000) {
        return { ...quote, invalid: `reported image usage input_tokens=${input}, output_tokens=${output} for ${media.n} image(s)` };
      }
      return { match: model, usage: { ...zeroUsage(), promptTokens: input, completionTokens: output }, unit: 'image', units: n, source: 'provider' };
    }
    if (Array.isArray(json.data) && json.data.length < media.n) {
      const n = json.data.length;
      return { ...quote, usage: { ...zeroUsage(), images: n }, units: n, source: 'provider' };
    }
    return quote;
  }
  if (media.kind !== 'audio') return quote;
  if (quote.match.entry.per_second) {
    const reported = typeof json.duration === 'number' ? json.duration : json.usage?.type === 'duration' ? json.usage.seconds : undefined;
    if (typeof reported !== 'number') return quote;
    // The client writes the container, the provider decodes the audio: a header
    // can understate what the provider hears and charges, so a longer report is
    // believed, up to what the bytes sent could hold at all.
    const physical = Math.min(MAX_SECONDS, Math.max(media.fileBytes / MIN_BYTES_PER_SECOND, (media.seconds ?? 0) * 1.1 + 1));
    if (!(reported > 0 && reported <= physical)) return { ...quote, invalid: `reported duration ${String(reported)} s for ${media.seconds ?? 'unmeasured'} s of audio in ${media.fileBytes} bytes` };
    const secs = wholeSeconds(reported);
    const bill: UnitBill = { ...quote, usage: { ...zeroUsage(), seconds: secs }, units: secs, source: 'provider' };
    if (media.seconds !== undefined && reported > media.seconds * 1.1 + 1) bill.note = `reported duration ${reported} s exceeds the ${media.seconds.toFixed(3)} s the file's header states`;
    return bill;
  }
  const u = json.usage;
  const input = count(u?.input_tokens);
  const output = count(u?.output_tokens);
  if (u?.type === 'tokens' && input !== undefined && output !== undefined) {
    return { ...quote, usage: { ...zeroUsage(), promptTokens: input, completionTokens: output }, source: 'provider' };
  }
  return quote;
}

/** Prices the bill, fills the row, and replaces the hold with the actual amount. */
export function settleUnits(s: SettleState, row: UsageRecord, target: Target, bill: UnitBill): number {
  const { ctx } = s;
  row.provider = target.provider.name;
  row.model = target.model;
  row.unit = bill.unit;
  row.units = bill.units;
  const { actual } = meterUsage(ctx, row, bill.match, bill.usage, s.resale, resaleNames(bill.usage, [row.model_requested, target.model]));
  row.usage_source = bill.source;
  if (bill.note) row.reason = [row.reason, bill.note].filter(Boolean).join('; ').slice(0, 500);
  if (bill.invalid) row.reason = [row.reason, `invalid_provider_usage: ${bill.invalid}`].filter(Boolean).join('; ').slice(0, 500);
  if (s.reservation && ctx.book.settle(s.reservation, actual) && s.rateHolds.length) settleRates(ctx.policyTables.windows, s.rateHolds, actual, Date.now());
  row.latency_ms = Math.round(performance.now() - s.t0);
  return row.cost_nano;
}

/**
 * A unit call's successful answer: JSON (images, transcripts) or audio bytes
 * (speech), relayed as they came after the row is committed; billed even
 * when the client has left (the provider charged).
 */
export async function relayUnitAnswer(c: CallRun & SettleState, call: ParsedCall, quote: Extract<UnitQuote, { ok: true }>, answer: Answer, row: UsageRecord, refs: readonly BudgetRef[]): Promise<void> {
  const { ctx, ex } = c;
  const contentType = answer.head.contentType;
  const bytes = answer.body!;
  let json: unknown;
  if (contentType.includes('json')) {
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
  }
  const cost = settleUnits(c, row, answer.target, unitBill(quote.bill, call.media!, quote.model, json));
  row.status = ex.aborted ? 499 : answer.head.status;
  if (ex.aborted) row.reason = [row.reason, 'client_disconnected'].filter(Boolean).join('; ').slice(0, 500);
  await ctx.ledger.append(row);
  c.count(row.status, 'allowed');
  const remaining = tightestRemaining(refs, ctx.table);
  ex.send(answer.head.status, {
    'content-type': contentType || 'application/octet-stream',
    'x-tollgate-request-id': c.requestId,
    'x-tollgate-cost': costHeader(cost),
    'x-tollgate-budget-remaining': remaining ? `${remaining.value} ${remaining.unit}` : 'unlimited',
  }, bytes);
}
