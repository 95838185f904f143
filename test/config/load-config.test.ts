import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load-config.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/config/${name}.yaml`, import.meta.url));

function problemsOf(name: string): string[] {
  try {
    loadConfigFile(fixture(name), {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error(`${name} loaded without error`);
}

describe('config validation', () => {
  const cases: [string, string][] = [
    ['unknown-provider', 'routes[0].targets[1].provider: unknown provider "x"'],
    ['bad-budget-unit', 'customers[0].budgets[0].unit: a 3-letter currency code (USD, GBP, ...), "tokens" or "requests" (got "dollars")'],
    ['missing-exchange-rate', 'customers[0].budgets[0].unit: no exchange rate for GBP (add exchangeRates.GBP: units per 1 USD)'],
    ['negative-limit', 'plans[0].budgets[0].limit: Number must be greater than 0 (got -5)'],
    ['unknown-plan', 'customers[0].plan: unknown plan "gold"'],
    ['duplicate-key', 'customers[1].keys[0]: key already used by customers[0].keys[0]'],
    ['unknown-field', 'listen.backlog: unknown field (check its spelling and docs/interface.md)'],
    ['bad-period', `customers[0].budgets[0].period: Invalid enum value. Expected 'day' | 'week' | 'month' | 'quarter' | 'year' | 'total', received 'fortnight' (got "fortnight")`],
    ['bad-time-zone', 'customers[0].timeZone: unknown time zone "Mars/Olympus_Mons" (an IANA name such as America/New_York)'],
    ['missing-env', 'adminToken: environment variable TOLLGATE_TEST_SURELY_UNSET_VAR is not set (use ${TOLLGATE_TEST_SURELY_UNSET_VAR:-default} for a default)'],
  ];
  for (const [name, expected] of cases) {
    it(`names the bad field: ${name}`, () => {
      expect(problemsOf(name)).toContain(expected);
    });
  }

  it('reports a YAML syntax error with the file name', () => {
    expect(problemsOf('bad-yaml')[0]).toMatch(/^not valid YAML: /);
  });

  it('substitutes environment variables and defaults', () => {
    const c = parseConfig({ adminToken: '${TOKEN}', dataDir: '${DIR:-/tmp/tg}' }, { TOKEN: 's3cret' });
    expect(c.adminToken).toBe('s3cret');
    expect(c.dataDir).toBe('/tmp/tg');
  });

  it('fills defaults and freezes the result', () => {
    const c = parseConfig({});
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.limits.maxBodyBytes).toBe(16 * 1024 * 1024);
    expect(Object.isFrozen(c.listen)).toBe(true);
  });

  it('loads the bundled example config', () => {
    const c = loadConfigFile(fileURLToPath(new URL('../../config/tollgate.example.yaml', import.meta.url)), {});
    expect(c.customers[0]!.id).toBe('acme');
    expect(c.providers.map((p) => p.name)).toEqual(['openai', 'anthropic']);
  });
});
