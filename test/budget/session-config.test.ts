import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { sessionBudgetRefs, sessionColumns } from '../../src/budget/session-budgets.js';

// sessionBudgets, sessionTtl and limits.sessions: validated once at start,
// every problem naming its path.

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config loaded without error');
}

describe('session config', () => {
  it('defaults the session TTL to 24 hours and the table to a million sessions', () => {
    const c = parseConfig({}, {});
    expect(c.sessionTtl).toBe(24 * 3_600_000);
    expect(c.limits.sessions).toBe(1_000_000);
    expect(sessionColumns(c)).toBe(0);
  });

  it('names a session budget currency with no exchange rate', () => {
    expect(problems({ customers: [{ id: 'acme', sessionBudgets: [{ limit: 1, unit: 'GBP' }] }] }))
      .toContain('customers[0].sessionBudgets[0].unit: no exchange rate for GBP (add exchangeRates.GBP: units per 1 USD)');
  });

  it('refuses a period on a session budget, which lasts as long as its session', () => {
    expect(problems({ plans: [{ name: 'p', sessionBudgets: [{ limit: 1, unit: 'USD', period: 'day' }] }] }).join('\n'))
      .toMatch(/plans\[0\]\.sessionBudgets\[0\]\.period: unknown field/);
  });

  it('refuses a session TTL under a second and a table under one bucket', () => {
    expect(problems({ sessionTtl: '500ms' }).join('\n')).toMatch(/^sessionTtl: at least 1s/m);
    expect(problems({ limits: { sessions: 4 } }).join('\n')).toMatch(/^limits\.sessions: /m);
  });

  it('applies the plan\'s session budgets and the customer\'s, each in its own column', () => {
    const c = parseConfig({
      exchangeRates: { GBP: 0.8 },
      defaultPlan: 'team',
      plans: [{ name: 'team', sessionBudgets: [{ limit: 10, unit: 'requests' }] }],
      customers: [{ id: 'acme', plan: 'team', sessionBudgets: [{ limit: 2, unit: 'GBP' }, { limit: 5000, unit: 'tokens' }] }],
    }, {});
    expect(sessionColumns(c)).toBe(3);
    expect(sessionBudgetRefs(c, 'acme').map((r) => [r.index, r.source, r.unit, r.cap])).toEqual([
      [0, 'plan', 'requests', 10n], [1, 'customer', 'GBP', 2_000_000_000n], [2, 'customer', 'tokens', 5000n],
    ]);
    // A customer first seen through an app key gets the default plan's.
    expect(sessionBudgetRefs(c, 'someone-new').map((r) => r.unit)).toEqual(['requests']);
  });
});
