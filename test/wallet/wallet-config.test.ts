import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { scopeBudgets } from '../../src/budget/scope-budgets.js';

// `wallet` on plans and customers (and `wallet.webhookSecret` at the top):
// validated at start-up, each problem naming its path; a valid wallet is one
// more budget of the customer's scope, of period `prepaid`.

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseConfig(raw, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('wallet config', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a currency without an exchange rate', { customers: [{ id: 'a', wallet: { currency: 'GBP' } }] }, 'customers[0].wallet.currency: no exchange rate for GBP (add exchangeRates.GBP: units per 1 USD)'],
    ['a currency that is no code', { plans: [{ name: 'p', wallet: { currency: 'dollars' } }] }, 'plans[0].wallet.currency: a 3-letter currency code (USD, GBP, ...) (got "dollars")'],
    ['a negative low-balance threshold', { customers: [{ id: 'a', wallet: { lowBalance: [{ below: -1 }] } }] }, 'customers[0].wallet.lowBalance[0].below: Number must be greater than 0 (got -1)'],
    ['an unknown alert channel', { customers: [{ id: 'a', wallet: { lowBalance: [{ below: 1, notify: ['ops'] }] } }] }, 'customers[0].wallet.lowBalance[0].notify[0]: unknown alert channel "ops"'],
    ['an unknown wallet field', { customers: [{ id: 'a', wallet: { limit: 5 } }] }, 'customers[0].wallet.limit: unknown field (check its spelling and docs/interface.md)'],
    ['a short webhook secret', { wallet: { webhookSecret: 'short' } }, 'wallet.webhookSecret: at least 16 characters (got "short")'],
  ];
  for (const [name, raw, expected] of cases) {
    it(`names the field of ${name}`, () => {
      expect(problems(raw)).toContain(expected);
    });
  }

  it('gives a customer its own wallet, else its plan\'s, as a prepaid budget with the top-up URL filled in', () => {
    const config = parseConfig({
      exchangeRates: { GBP: 0.8 },
      plans: [{ name: 'p', wallet: { currency: 'GBP', topUpUrl: 'https://pay.example.com/{customer}?x=1' } }],
      customers: [{ id: 'on-plan', plan: 'p' }, { id: 'own', plan: 'p', wallet: { currency: 'USD', lowBalance: [{ below: 2 }] } }, { id: 'none' }],
    }, {});
    const onPlan = scopeBudgets(config, 'on-plan', 'agent-1').filter((b) => b.ref.wallet);
    expect(onPlan).toHaveLength(1);
    expect(onPlan[0]!.ref).toMatchObject({ period: 'prepaid', unit: 'GBP', rate: 0.8, kind: 'money', limit: 0, scope: { customer: 'on-plan', agent: null, source: 'wallet' }, wallet: { topUpUrl: 'https://pay.example.com/on-plan?x=1' } });
    const own = scopeBudgets(config, 'own', null).find((b) => b.ref.wallet)!;
    expect(own.ref.unit).toBe('USD');
    expect(own.ref.wallet).toEqual({ lowBalance: [{ below: 2, notify: [] }] });
    expect(scopeBudgets(config, 'none', null).some((b) => b.ref.wallet)).toBe(false);
  });
});
