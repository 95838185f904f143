// x-tollgate-cost: a call's cost in USD, at most 9 decimals, trailing zeros dropped ("0", "0.0000125", "3.2").

/**
 * Written from the integer nano-USD without a float division, toFixed and a
 * regex per answer; the same text as `(nano / 1e9).toFixed(9)` less its
 * trailing zeros, which it falls back to outside the exact range (a double
 * holds n / 1e9 to better than half its 9th decimal while n < 4.5e15).
 */
export function costHeader(nano: number): string {
  if (!Number.isSafeInteger(nano) || nano < 0 || nano >= 1e15) return (nano / 1e9).toFixed(9).replace(/\.?0+$/, '') || '0';
  const whole = Math.floor(nano / 1e9);
  let frac = nano - whole * 1e9;
  if (frac === 0) return String(whole);
  let digits = 9;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  const f = String(frac);
  return `${whole}.${f.length < digits ? '0'.repeat(digits - f.length) + f : f}`;
}
