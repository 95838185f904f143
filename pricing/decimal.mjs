// Exact decimal -> integer conversion used by generate.mjs and crosscheck.mjs.
// Plain Node ESM, no dependencies.
//
// A JSON number is parsed by JSON.parse into a double; String(double) gives the
// shortest decimal that round-trips, which for the LiteLLM file is the literal
// that was written (Python's repr uses the same shortest-round-trip rule). We do
// the scaling on that decimal string with BigInt, so 2.1875e-06 USD/token becomes
// exactly 2187500 pico-USD, never 2187499.9999999998.

/**
 * Split a decimal number (JS number or numeric string) into digits * 10^exp.
 * @param {number|string} x
 * @returns {{ neg: boolean, digits: bigint, exp: number, text: string }}
 */
export function decimalParts(x) {
  let text;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
    text = String(x);
  } else if (typeof x === 'string') {
    text = x.trim();
  } else {
    throw new TypeError(`not a number: ${JSON.stringify(x)}`);
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal number: ${text}`);
  const frac = m[3] ?? '';
  const digits = BigInt((m[2] || '0') + frac);
  const exp = (m[4] ? Number.parseInt(m[4], 10) : 0) - frac.length;
  return { neg: m[1] === '-', digits, exp, text };
}

/**
 * x * 10^scale * multiplier, rounded half-up to an integer.
 * @param {number|string} x            decimal value, e.g. 2.1875e-06 (USD per token)
 * @param {number} scale               power of ten, 12 for USD -> pico-USD, 6 for USD/1M tokens -> pico-USD/token
 * @param {bigint} [multiplier]        extra exact integer factor (e.g. pixels per image)
 * @returns {{ value: number, exact: boolean, text: string }}
 */
export function scaleDecimal(x, scale, multiplier = 1n) {
  const { neg, digits, exp, text } = decimalParts(x);
  if (neg && digits !== 0n) throw new RangeError(`negative price: ${text}`);
  const n = digits * multiplier;
  const e = exp + scale;
  let q;
  let exact = true;
  if (e >= 0) {
    q = n * 10n ** BigInt(e);
  } else {
    const d = 10n ** BigInt(-e);
    q = n / d;
    const r = n % d;
    if (r !== 0n) {
      exact = false;
      if (r * 2n >= d) q += 1n;
    }
  }
  if (q > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`value too large for an exact Number: ${text} x 1e${scale}`);
  return { value: Number(q), exact, text };
}

/** USD (per token / per unit) -> integer pico-USD. */
export const usdToPico = (x, multiplier = 1n) => scaleDecimal(x, 12, multiplier);

/** USD per 1M tokens -> integer pico-USD per token. */
export const usdPerMtokToPico = (x) => scaleDecimal(x, 6);

/** Integer pico-USD per token -> USD per 1M tokens, as a plain JS number for display. */
export function picoToUsdPerMtok(pico) {
  // pico / 1e6, formatted through a decimal string to avoid 0.30000000000000004-style noise.
  const neg = pico < 0;
  const s = String(Math.abs(pico)).padStart(7, '0');
  const int = s.slice(0, -6);
  const frac = s.slice(-6).replace(/0+$/, '');
  return Number((neg ? '-' : '') + int + (frac ? '.' + frac : ''));
}
