import type { Config, BudgetConfig, WalletConfig } from './schema.js';
import { hashKey } from '../identity/key-hash.js';
import { checkTimeZone } from '../budget/periods.js';

/** Cross-field rules the schema cannot express. Returns `path: problem` lines. */
export function checkReferences(c: Config): string[] {
  const problems: string[] = [];
  const providers = new Set<string>();
  c.providers.forEach((p, i) => {
    if (providers.has(p.name)) problems.push(`providers[${i}].name: duplicate provider "${p.name}"`);
    providers.add(p.name);
  });
  const routeModels = new Set<string>();
  c.routes.forEach((r, i) => {
    if (routeModels.has(r.model)) problems.push(`routes[${i}].model: duplicate route "${r.model}"`);
    routeModels.add(r.model);
    r.targets.forEach((t, j) => {
      if (!providers.has(t.provider)) problems.push(`routes[${i}].targets[${j}].provider: unknown provider "${t.provider}"`);
    });
  });
  const plans = new Set<string>();
  c.plans.forEach((p, i) => {
    if (plans.has(p.name)) problems.push(`plans[${i}].name: duplicate plan "${p.name}"`);
    plans.add(p.name);
    checkBudgets(p.budgets, `plans[${i}].budgets`, c, problems);
    checkRates(p.sessionBudgets, `plans[${i}].sessionBudgets`, c, problems);
  });
  if (c.defaultPlan !== undefined && !plans.has(c.defaultPlan)) problems.push(`defaultPlan: unknown plan "${c.defaultPlan}"`);

  const keyOwners = new Map<string, string>();
  const claimKey = (hash: string, path: string) => {
    const prev = keyOwners.get(hash);
    if (prev) problems.push(`${path}: key already used by ${prev}`);
    else keyOwners.set(hash, path);
  };
  const ids = new Set<string>();
  c.customers.forEach((cu, i) => {
    const at = `customers[${i}]`;
    if (ids.has(cu.id)) problems.push(`${at}.id: duplicate customer "${cu.id}"`);
    ids.add(cu.id);
    if (cu.plan !== undefined && !plans.has(cu.plan)) problems.push(`${at}.plan: unknown plan "${cu.plan}"`);
    checkBudgets(cu.budgets, `${at}.budgets`, c, problems);
    checkRates(cu.sessionBudgets, `${at}.sessionBudgets`, c, problems);
    cu.agents.forEach((a, j) => checkBudgets(a.budgets, `${at}.agents[${j}].budgets`, c, problems));
    cu.keys.forEach((k, j) => claimKey(hashKey(k), `${at}.keys[${j}]`));
    cu.keyHashes.forEach((h, j) => claimKey(h.slice(7), `${at}.keyHashes[${j}]`));
  });
  c.appKeys.forEach((k, j) => claimKey(hashKey(k), `appKeys[${j}]`));
  c.appKeyHashes.forEach((h, j) => claimKey(h.slice(7), `appKeyHashes[${j}]`));

  const tokenNames = new Set(c.adminToken ? ['admin'] : []);
  const tokens = new Set(c.adminToken ? [c.adminToken] : []);
  c.adminTokens.forEach((t, i) => {
    if (tokenNames.has(t.name)) problems.push(`adminTokens[${i}].name: duplicate admin token name "${t.name}"${t.name === 'admin' && c.adminToken ? ' (adminToken is the token named "admin")' : ''}`);
    if (tokens.has(t.token)) problems.push(`adminTokens[${i}].token: the same token is given twice`);
    tokenNames.add(t.name);
    tokens.add(t.token);
  });
  if (c.unknownModel === 'default' && !c.unknownModelPrice) problems.push('unknownModelPrice: required when unknownModel is "default" (input and output, USD per 1M tokens)');
  const channels = new Set<string>();
  c.alerts.channels.forEach((ch, i) => {
    if (channels.has(ch.name)) problems.push(`alerts.channels[${i}].name: duplicate channel "${ch.name}"`);
    channels.add(ch.name);
  });
  const checkNotify = (budgets: BudgetConfig[], at: string) =>
    budgets.forEach((b, i) => b.thresholds.forEach((t, j) => t.notify.forEach((n, k) => {
      if (!channels.has(n)) problems.push(`${at}[${i}].thresholds[${j}].notify[${k}]: unknown alert channel "${n}"`);
    })));
  c.plans.forEach((p, i) => checkNotify(p.budgets, `plans[${i}].budgets`));
  c.customers.forEach((cu, i) => {
    checkNotify(cu.budgets, `customers[${i}].budgets`);
    cu.agents.forEach((a, j) => checkNotify(a.budgets, `customers[${i}].agents[${j}].budgets`));
  });
  c.plans.forEach((p, i) => checkWallet(p.wallet, `plans[${i}].wallet`, c, problems));
  c.customers.forEach((cu, i) => checkWallet(cu.wallet, `customers[${i}].wallet`, c, problems));
  c.alerts.notify?.forEach((n, k) => {
    if (!channels.has(n)) problems.push(`alerts.notify[${k}]: unknown alert channel "${n}"`);
  });
  c.alerts.anomaly?.notify.forEach((n, k) => {
    if (!channels.has(n)) problems.push(`alerts.anomaly.notify[${k}]: unknown alert channel "${n}"`);
  });

  const zone = (path: string, timeZone: string | undefined) => {
    if (timeZone === undefined) return;
    try {
      checkTimeZone(timeZone);
    } catch {
      problems.push(`${path}: unknown time zone "${timeZone}" (an IANA name such as America/New_York)`);
    }
  };
  zone(c.timeZone !== undefined ? 'timeZone' : 'timezone', c.timezone);
  c.plans.forEach((p, i) => zone(`plans[${i}].timeZone`, p.timeZone));
  c.customers.forEach((cu, i) => zone(`customers[${i}].timeZone`, cu.timeZone));
  return problems;
}

function checkRates(budgets: { unit: string }[], at: string, c: Config, problems: string[]) {
  budgets.forEach((b, i) => {
    if (/^[A-Z]{3}$/.test(b.unit) && b.unit !== 'USD' && c.exchangeRates[b.unit] === undefined) {
      problems.push(`${at}[${i}].unit: no exchange rate for ${b.unit} (add exchangeRates.${b.unit}: units per 1 USD)`);
    }
  });
}

export function checkBudgets(budgets: BudgetConfig[], at: string, c: Config, problems: string[]) {
  checkRates(budgets, at, c, problems);
  budgets.forEach((b, i) => {
    b.thresholds.forEach((t, j) => {
      if (t.action === 'degrade' && !t.model) problems.push(`${at}[${i}].thresholds[${j}].model: a degrade threshold needs the model to degrade to`);
    });
  });
}

/** A wallet's currency needs a rate; its low-balance alerts need known channels (config file and admin API alike). */
export function checkWallet(w: WalletConfig | undefined, at: string, c: Config, problems: string[]): void {
  if (!w) return;
  if (w.currency !== 'USD' && c.exchangeRates[w.currency] === undefined) problems.push(`${at}.currency: no exchange rate for ${w.currency} (add exchangeRates.${w.currency}: units per 1 USD)`);
  const channels = new Set(c.alerts.channels.map((ch) => ch.name));
  w.lowBalance.forEach((t, i) => t.notify.forEach((n, k) => {
    if (!channels.has(n)) problems.push(`${at}.lowBalance[${i}].notify[${k}]: unknown alert channel "${n}"`);
  }));
}
