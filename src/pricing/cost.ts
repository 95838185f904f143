// Request cost from a price entry. PURE: no fs, no node: imports.
//
// All prices are integer pico-USD (1e-12 USD) per unit. The arithmetic is exact: products and
// sums are done in BigInt over a common decimal denominator, and the only rounding is one final
// half-up rounding to a whole pico-USD (needed only for fractional quantities such as 12.5 audio
// seconds, or for the 1.25x Anthropic cache-write fallback).

import type { PriceEntry, PriceTier } from './price-table.js';

export interface UsageUnits {
  /** ALL input tokens, including cached reads and cache writes (OpenAI semantics). */
  promptTokens: number;
  /** Output tokens, reasoning tokens included. */
  completionTokens: number;
  /** Cache reads (subset of promptTokens). */
  cachedTokens?: number;
  /** 5-minute cache writes (subset of promptTokens). */
  cacheWriteTokens?: number;
  /** 1-hour cache writes (subset of promptTokens). */
  cacheWrite1hTokens?: number;
  images?: number;
  seconds?: number;
  characters?: number;
  /** Billed through a batch API: batch_input / batch_output replace input / output where the entry has them. */
  batch?: boolean;
}

/**
 * The context tier that applies to a request with `promptTokens` input tokens: the highest tier
 * whose `above` is strictly below promptTokens, or undefined for the base rates.
 */
export function selectTier(entry: PriceEntry, promptTokens: number): PriceTier | undefined {
  const tiers = entry.tiers;
  if (!tiers || tiers.length === 0) return undefined;
  let chosen: PriceTier | undefined;
  for (const t of tiers) if (promptTokens > t.above) chosen = t;
  return chosen;
}

/** A non-negative finite decimal quantity as mantissa / 10^scale. */
function quantity(x: number | undefined, name: string): { m: bigint; scale: number } {
  if (x === undefined) return { m: 0n, scale: 0 };
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new RangeError(`usage.${name} must be a finite number >= 0, got ${String(x)}`);
  if (Number.isInteger(x)) {
    if (Number.isSafeInteger(x)) return { m: BigInt(x), scale: 0 };
  }
  // Shortest round-trip decimal of the double, e.g. "12.5", "1e-7", "1.5e+21".
  const s = String(x);
  const mm = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(s);
  if (!mm) throw new RangeError(`usage.${name}: cannot read ${s}`);
  const frac = mm[2] ?? '';
  let m = BigInt((mm[1] || '0') + frac);
  let scale = frac.length - (mm[3] ? Number(mm[3]) : 0);
  if (scale < 0) {
    m *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { m, scale };
}

const isAnthropic = (e: PriceEntry) => e.provider === 'anthropic';

/**
 * Exact cost in pico-USD as a BigInt.
 *
 * - The tier is chosen by promptTokens; a tier field that is absent falls back to the base rate.
 * - uncached input = promptTokens - cached - cacheWrite - cacheWrite1h, never below 0.
 * - No cache_read price: cached tokens bill at the input price.
 * - No cache_write price: input x 1.25 for provider 'anthropic' (Anthropic's 5-minute write
 *   multiplier), otherwise the input price.
 * - No cache_write_1h price: input x 2 for 'anthropic' (the 1-hour multiplier), otherwise the
 *   5-minute write price as resolved above.
 * - batch: batch_input / batch_output replace the (tiered) input / output rates when present;
 *   cache rates are unchanged.
 * - Any unit the entry has no price for costs 0; every unit passed is billed, so pass tokens OR
 *   the per-unit quantity (images / seconds / characters) that the provider bills, not both.
 */
export function costPicoBig(entry: PriceEntry, usage: UsageUnits): bigint {
  const prompt = quantity(usage.promptTokens ?? 0, 'promptTokens');
  const completion = quantity(usage.completionTokens ?? 0, 'completionTokens');
  const cached = quantity(usage.cachedTokens, 'cachedTokens');
  const cw5 = quantity(usage.cacheWriteTokens, 'cacheWriteTokens');
  const cw1h = quantity(usage.cacheWrite1hTokens, 'cacheWrite1hTokens');
  const images = quantity(usage.images, 'images');
  const seconds = quantity(usage.seconds, 'seconds');
  const characters = quantity(usage.characters, 'characters');

  const tier = selectTier(entry, usage.promptTokens ?? 0);
  const rate = (f: 'input' | 'output' | 'cache_read' | 'cache_write' | 'cache_write_1h'): number | undefined => tier?.[f] ?? entry[f];

  // Rates in quarter-pico so that the 1.25x fallback stays integral.
  const input = BigInt(rate('input') ?? 0);
  const q = (v: number | undefined) => BigInt(v ?? 0) * 4n;
  const inputQ = usage.batch && entry.batch_input !== undefined ? q(entry.batch_input) : input * 4n;
  const outputQ = usage.batch && entry.batch_output !== undefined ? q(entry.batch_output) : q(rate('output'));
  const cacheReadQ = rate('cache_read') !== undefined ? q(rate('cache_read')) : input * 4n;
  const cw5Rate = rate('cache_write');
  const cacheWriteQ = cw5Rate !== undefined ? q(cw5Rate) : isAnthropic(entry) ? input * 5n : input * 4n;
  const cw1hRate = rate('cache_write_1h');
  const cacheWrite1hQ = cw1hRate !== undefined ? q(cw1hRate) : isAnthropic(entry) ? input * 8n : cacheWriteQ;

  const terms: Array<[ReturnType<typeof quantity>, bigint]> = [
    [cached, cacheReadQ],
    [cw5, cacheWriteQ],
    [cw1h, cacheWrite1hQ],
    [completion, outputQ],
    [images, q(entry.per_image)],
    [seconds, q(entry.per_second)],
    [characters, q(entry.per_character)],
  ];

  // Uncached input = prompt - cached - writes (clamped at 0), in a common decimal scale.
  const subScale = Math.max(prompt.scale, cached.scale, cw5.scale, cw1h.scale);
  const at = (x: { m: bigint; scale: number }, s: number) => x.m * 10n ** BigInt(s - x.scale);
  let uncached = at(prompt, subScale) - at(cached, subScale) - at(cw5, subScale) - at(cw1h, subScale);
  if (uncached < 0n) uncached = 0n;
  terms.push([{ m: uncached, scale: subScale }, inputQ]);

  const scale = terms.reduce((s, [x]) => Math.max(s, x.scale), 0);
  let num = 0n;
  for (const [x, r] of terms) if (x.m !== 0n && r !== 0n) num += at(x, scale) * r;
  const den = 4n * 10n ** BigInt(scale);
  return (num * 2n + den) / (2n * den); // round half up
}

/**
 * Cost in integer pico-USD. Exact below 2^53 pico-USD (about $9,007); above that the BigInt
 * result is converted to the nearest double (use costPicoBig for an exact value).
 */
export function costPico(entry: PriceEntry, usage: UsageUnits): number {
  return costPicoFast(entry, usage) ?? Number(costPicoBig(entry, usage));
}

/**
 * The same arithmetic as costPicoBig in doubles, for the common case (whole
 * token counts, no per-unit quantities) where every product and the sum stay
 * exact integers below 2^53. Returns undefined when that cannot be promised;
 * it is on every call's path twice, and BigInt is several times slower.
 */
export function costPicoFast(entry: PriceEntry, usage: UsageUnits): number | undefined {
  if (usage.images || usage.seconds || usage.characters) return undefined;
  const prompt = usage.promptTokens ?? 0;
  const completion = usage.completionTokens ?? 0;
  const cached = usage.cachedTokens ?? 0;
  const cw5 = usage.cacheWriteTokens ?? 0;
  const cw1h = usage.cacheWrite1hTokens ?? 0;
  if (!wholeCount(prompt) || !wholeCount(completion) || !wholeCount(cached) || !wholeCount(cw5) || !wholeCount(cw1h)) return undefined;
  const tier = selectTier(entry, prompt);
  const input = tier?.input ?? entry.input ?? 0;
  const output = tier?.output ?? entry.output;
  const cacheRead = tier?.cache_read ?? entry.cache_read;
  const cw5Rate = tier?.cache_write ?? entry.cache_write;
  const cw1hRate = tier?.cache_write_1h ?? entry.cache_write_1h;
  // Quarter-pico rates, as in costPicoBig.
  const inputQ = usage.batch && entry.batch_input !== undefined ? entry.batch_input * 4 : input * 4;
  const outputQ = usage.batch && entry.batch_output !== undefined ? entry.batch_output * 4 : (output ?? 0) * 4;
  const cacheReadQ = cacheRead !== undefined ? cacheRead * 4 : input * 4;
  const cacheWriteQ = cw5Rate !== undefined ? cw5Rate * 4 : isAnthropic(entry) ? input * 5 : input * 4;
  const cacheWrite1hQ = cw1hRate !== undefined ? cw1hRate * 4 : isAnthropic(entry) ? input * 8 : cacheWriteQ;
  const uncached = Math.max(0, prompt - cached - cw5 - cw1h);
  // Each term checked on its own, without an array of them per call.
  const t1 = uncached * inputQ, t2 = cached * cacheReadQ, t3 = cw5 * cacheWriteQ, t4 = cw1h * cacheWrite1hQ, t5 = completion * outputQ;
  if (!Number.isSafeInteger(t1) || !Number.isSafeInteger(t2) || !Number.isSafeInteger(t3) || !Number.isSafeInteger(t4) || !Number.isSafeInteger(t5)) return undefined;
  const total = t1 + t2 + t3 + t4 + t5;
  if (!Number.isSafeInteger(total * 2 + 4)) return undefined;
  return Math.floor((total * 2 + 4) / 8); // round half up, as costPicoBig
}

const wholeCount = (x: number) => Number.isSafeInteger(x) && x >= 0;
