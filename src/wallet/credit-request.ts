// The body of a top-up (POST /admin/customers/:id/credits, which also takes
// refunds and adjustments, and the signed POST /v1/wallet/credits, credits
// only): checked field by field, each problem naming its
// field, and the amount converted to integer nano-units of the wallet's
// currency. Pure: the exchange rates come in as a parameter.

/** credit: adds; refund: takes back (credit returned to the payer); adjustment: a signed correction. */
export type CreditType = 'credit' | 'refund' | 'adjustment';

export interface CreditRequest {
  customer: string;
  /** An issued key's own wallet; absent: the customer's. */
  key_id?: string;
  type: CreditType;
  /** As sent: positive for credits and refunds, signed for adjustments. */
  amount: number;
  /** The currency `amount` is in; undefined: the wallet's. */
  currency?: string;
  idempotencyKey: string;
  reference?: string;
}

const MAX_KEY = 200;
const MAX_REFERENCE = 500;
/** 10^9 units of any currency: far beyond any top-up, and its nano-units still fit an int64. */
const MAX_AMOUNT = 1e9;
const MAX_NANO = 9e18;

/**
 * Reads a credit body; `customer` (and a key's `key_id`) come from the path
 * (admin) or, when undefined, from the body (the signed endpoint, where
 * `key_id` is optional). Returns `field: problem` on bad input.
 */
export function parseCreditRequest(body: unknown, customer?: string, types: readonly CreditType[] = ['credit', 'refund', 'adjustment'], keyId?: string): CreditRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body: a JSON object { amount, currency?, idempotency_key, reference? }';
  const b = body as Record<string, unknown>;
  if (customer === undefined) {
    if (typeof b.customer !== 'string' || !b.customer) return 'customer: required, the id of the customer whose wallet is credited';
    customer = b.customer;
    if (b.key_id !== undefined && (typeof b.key_id !== 'string' || !b.key_id)) return 'key_id: a key id (key_...) whose own wallet is credited; omit it to credit the customer\'s wallet';
    keyId = b.key_id as string | undefined;
  }
  const type = b.type ?? 'credit';
  if (typeof type !== 'string' || !(types as readonly string[]).includes(type)) return `type: one of ${types.join(', ')} (got ${JSON.stringify(type)})`;
  const amount = b.amount;
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return 'amount: required, a finite number (the credit, in `currency`)';
  if (type === 'adjustment' ? amount === 0 : amount <= 0) {
    return type === 'adjustment' ? 'amount: an adjustment must not be 0 (negative takes credit away)' : `amount: must be greater than 0 (got ${amount}); ${type === 'refund' ? 'a refund takes this much back' : 'a top-up only adds credit'}`;
  }
  if (Math.abs(amount) > MAX_AMOUNT) return `amount: at most ${MAX_AMOUNT} in size (got ${amount})`;
  if (b.currency !== undefined && (typeof b.currency !== 'string' || !/^[A-Z]{3}$/.test(b.currency))) return 'currency: a 3-letter currency code such as USD or GBP';
  if (typeof b.idempotency_key !== 'string' || !b.idempotency_key) return 'idempotency_key: required, a string unique to this top-up (a repeat with the same key credits once)';
  if (b.idempotency_key.length > MAX_KEY) return `idempotency_key: at most ${MAX_KEY} characters`;
  if (b.reference !== undefined && typeof b.reference !== 'string') return 'reference: a string (an order or payment id)';
  if (typeof b.reference === 'string' && b.reference.length > MAX_REFERENCE) return `reference: at most ${MAX_REFERENCE} characters`;
  return {
    customer,
    ...(keyId !== undefined ? { key_id: keyId } : {}),
    type: type as CreditType,
    amount,
    ...(b.currency !== undefined ? { currency: b.currency as string } : {}),
    idempotencyKey: b.idempotency_key,
    ...(b.reference !== undefined ? { reference: b.reference as string } : {}),
  };
}

/**
 * `amount` of `from` in nano-units of `to`, through USD (`rates`: units per
 * 1 USD, USD always 1). A string naming `currency` when a rate is missing.
 * Rounded to the nearest nano-unit: the only float step, at the edge.
 */
export function toWalletNano(amount: number, from: string, to: string, rates: Readonly<Record<string, number>>): bigint | string {
  const rate = (c: string) => (c === 'USD' ? 1 : rates[c]);
  const rf = rate(from);
  const rt = rate(to);
  if (rf === undefined) return `currency: no exchange rate for ${from} (the wallet is in ${to}; add exchangeRates.${from}: units per 1 USD)`;
  if (rt === undefined) return `currency: no exchange rate for the wallet's currency ${to} (add exchangeRates.${to})`;
  const size = Math.abs(amount);
  const nano = from === to ? Math.round(size * 1e9) : Math.round((size * 1e9 * rt) / rf);
  if (nano <= 0) return `amount: ${amount} ${from} is less than one nano-unit of ${to}`;
  if (nano > MAX_NANO) return `amount: ${amount} ${from} is more than a wallet can hold in ${to}`;
  return amount < 0 ? -BigInt(nano) : BigInt(nano);
}
