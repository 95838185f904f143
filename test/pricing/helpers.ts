// Shared helpers for the pricing tests (not a test file itself).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PRICING_DIR = path.join(ROOT, 'pricing');

export function readJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(path.join(ROOT, rel), 'utf8')) as T;
}

/**
 * USD per 1M tokens (written as in a price list) -> pico-USD per token, computed from the decimal
 * string so the expectation does not share code or float rounding with the generator.
 */
export function perM(usdPerMillion: string): number {
  return decimalTimesPow10(usdPerMillion, 6);
}

/** USD per unit (image, second, character) -> pico-USD per unit. */
export function usd(usdPerUnit: string): number {
  return decimalTimesPow10(usdPerUnit, 12);
}

function decimalTimesPow10(s: string, pow: number): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`bad decimal in test: ${s}`);
  const frac = m[2] ?? '';
  if (frac.length > pow) throw new Error(`${s} is not a whole number after x1e${pow}`);
  return Number(m[1] + frac.padEnd(pow, '0'));
}
