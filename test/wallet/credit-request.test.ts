import { describe, expect, it } from 'vitest';
import { parseCreditRequest, toWalletNano } from '../../src/wallet/credit-request.js';

// A top-up's body, field by field, and its conversion to nano-units of the
// wallet's currency: integers at the edge, through USD.

describe('parseCreditRequest', () => {
  const bad: [string, unknown, RegExp][] = [
    ['not an object', [1], /^body:/],
    ['a negative amount', { amount: -5, idempotency_key: 'k' }, /^amount: must be greater than 0/],
    ['a zero amount', { amount: 0, idempotency_key: 'k' }, /^amount: must be greater than 0/],
    ['an infinite amount', { amount: Infinity, idempotency_key: 'k' }, /^amount: required, a finite number/],
    ['an amount as text', { amount: '5', idempotency_key: 'k' }, /^amount:/],
    ['an absurd amount', { amount: 1e12, idempotency_key: 'k' }, /^amount: at most/],
    ['no idempotency key', { amount: 5 }, /^idempotency_key: required/],
    ['an empty idempotency key', { amount: 5, idempotency_key: '' }, /^idempotency_key: required/],
    ['a lowercase currency', { amount: 5, idempotency_key: 'k', currency: 'usd' }, /^currency:/],
    ['a reference that is no string', { amount: 5, idempotency_key: 'k', reference: 7 }, /^reference:/],
  ];
  for (const [name, body, message] of bad) {
    it(`refuses ${name}, naming the field`, () => {
      expect(parseCreditRequest(body, 'acme')).toMatch(message);
    });
  }

  it('takes the customer from the path, or from the body of a signed top-up', () => {
    expect(parseCreditRequest({ amount: 5, idempotency_key: 'k', reference: 'r' }, 'acme')).toEqual({ customer: 'acme', type: 'credit', amount: 5, idempotencyKey: 'k', reference: 'r' });
    expect(parseCreditRequest({ customer: 'beta', amount: 5, currency: 'GBP', idempotency_key: 'k' })).toEqual({ customer: 'beta', type: 'credit', amount: 5, currency: 'GBP', idempotencyKey: 'k' });
    expect(parseCreditRequest({ amount: 5, idempotency_key: 'k' })).toMatch(/^customer: required/);
  });

  it('takes refunds (positive) and signed adjustments from the admin API, and only credits where told', () => {
    expect(parseCreditRequest({ type: 'refund', amount: 2, idempotency_key: 'k' }, 'acme')).toMatchObject({ type: 'refund', amount: 2 });
    expect(parseCreditRequest({ type: 'refund', amount: -2, idempotency_key: 'k' }, 'acme')).toMatch(/^amount: must be greater than 0/);
    expect(parseCreditRequest({ type: 'adjustment', amount: -2, idempotency_key: 'k' }, 'acme')).toMatchObject({ type: 'adjustment', amount: -2 });
    expect(parseCreditRequest({ type: 'adjustment', amount: 0, idempotency_key: 'k' }, 'acme')).toMatch(/^amount: an adjustment must not be 0/);
    expect(parseCreditRequest({ type: 'gift', amount: 2, idempotency_key: 'k' }, 'acme')).toMatch(/^type: one of credit, refund, adjustment/);
    expect(parseCreditRequest({ customer: 'a', type: 'refund', amount: 2, idempotency_key: 'k' }, undefined, ['credit'])).toMatch(/^type: one of credit /);
  });
});

describe('toWalletNano', () => {
  it('converts through USD to integer nano-units of the wallet\'s currency', () => {
    expect(toWalletNano(10, 'USD', 'USD', {})).toBe(10_000_000_000n);
    expect(toWalletNano(0.1, 'USD', 'USD', {})).toBe(100_000_000n);
    expect(toWalletNano(8, 'GBP', 'USD', { GBP: 0.8 })).toBe(10_000_000_000n);
    expect(toWalletNano(10, 'USD', 'EUR', { EUR: 0.9 })).toBe(9_000_000_000n);
    expect(toWalletNano(1, 'JPY', 'GBP', { JPY: 150, GBP: 0.75 })).toBe(5_000_000n);
  });

  it('names the currency without a rate, and refuses less than a nano-unit', () => {
    expect(toWalletNano(5, 'GBP', 'USD', {})).toMatch(/^currency: no exchange rate for GBP/);
    expect(toWalletNano(1e-12, 'USD', 'USD', {})).toMatch(/^amount:/);
    expect(toWalletNano(-8, 'GBP', 'USD', { GBP: 0.8 })).toBe(-10_000_000_000n);
  });
});
