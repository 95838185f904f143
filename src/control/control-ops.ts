import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { budgetSchema, customerSchema, planSchema, walletSchema, type Config, type CustomerConfig, type PlanConfig } from '../config/schema.js';
import { describeIssues } from '../config/load-config.js';
import { checkBudgets, checkWallet } from '../config/check-references.js';
import { checkTimeZone } from '../budget/periods.js';
import { hashKey } from '../identity/key-hash.js';
import type { ErrorType } from '../http/errors.js';
import type { AuditEntry } from './audit-log.js';
import type { ControlDelta, KeyRecord } from './control-records.js';
import type { ControlState } from './control-state.js';

// Admin writes as pure functions of the current state: validate the body
// with the config file's own schema (same path-naming messages), check
// references (plan, currencies, channels, zones), then describe the change
// as deltas plus their undo and the audit entry. Nothing is applied here:
// control-plane.ts stages, commits and ships what comes back.

export type Refusal = { ok: false; type: ErrorType; message: string; problems?: string[] };
export interface Planned {
  ok: true;
  deltas: ControlDelta[];
  /** Deltas that restore the state as it was (a commit that failed, a capacity refusal). */
  undo: ControlDelta[];
  audit: Omit<AuditEntry, 'ts' | 'actor'>;
  status: number;
  /** The answer; may be built after staging (`answer()`), e.g. to show counters. */
  body: unknown;
}
export type Outcome = Planned | Refusal;

/** Key secrets: recognisable (and greppable by leaked-secret scanners) by their prefix. */
export const KEY_PREFIX = 'tgk_live_';

// The config file's customer shape, without the fields the API manages elsewhere (keys) or on its own (id in the path).
export const customerBody = customerSchema.omit({ keys: true, keyHashes: true });
export const customerPatch = customerBody.omit({ id: true }).partial().strict();
export const planBody = planSchema.omit({ name: true });
const rateLimit = customerSchema.shape.rateLimit;

export const keyBody = z.object({
  name: z.string().min(1).max(200).optional(),
  expires_at: z.string().datetime({ offset: true, message: 'an ISO 8601 date-time (2031-01-01T00:00:00Z)' }).optional(),
  budgets: z.array(budgetSchema).optional(),
  rateLimit,
  models: z.array(z.string().min(1).max(200)).max(256).optional(),
  wallet: walletSchema.optional(),
}).strict();

export const resetBody = z.object({ reason: z.string().min(1).max(500) }).strict();

const refuse = (type: ErrorType, message: string, problems?: string[]): Refusal => ({ ok: false, type, message, ...(problems ? { problems } : {}) });

function invalid(problems: string[]): Refusal {
  return refuse('invalid_request_error', problems.join('; '), problems);
}

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> | Refusal {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return invalid(['body: a JSON object']);
  const r = schema.safeParse(body);
  return r.success ? r.data : invalid(describeIssues(r.error.issues, body));
}
const isRefusal = (v: unknown): v is Refusal => typeof v === 'object' && v !== null && (v as Refusal).ok === false;

/** Cross-field checks the config file gets from check-references.ts, for one customer or plan. */
function checkScope(config: Config, state: ControlState, s: Partial<CustomerConfig & PlanConfig>): string[] {
  const problems: string[] = [];
  if (s.plan !== undefined && !state.catalog.plan(s.plan)) problems.push(`plan: unknown plan "${s.plan}"`);
  checkBudgets(s.budgets ?? [], 'budgets', config, problems);
  checkWallet(s.wallet, 'wallet', config, problems);
  s.agents?.forEach((a, j) => checkBudgets(a.budgets, `agents[${j}].budgets`, config, problems));
  const channels = new Set(config.alerts.channels.map((c) => c.name));
  (s.budgets ?? []).forEach((b, i) => b.thresholds.forEach((t, j) => t.notify.forEach((n, k) => {
    if (!channels.has(n)) problems.push(`budgets[${i}].thresholds[${j}].notify[${k}]: unknown alert channel "${n}"`);
  })));
  (s.sessionBudgets ?? []).forEach((b, i) => {
    if (/^[A-Z]{3}$/.test(b.unit) && b.unit !== 'USD' && config.exchangeRates[b.unit] === undefined) problems.push(`sessionBudgets[${i}].unit: no exchange rate for ${b.unit} (add exchangeRates.${b.unit})`);
  });
  if (s.timeZone !== undefined) {
    try {
      checkTimeZone(s.timeZone);
    } catch {
      problems.push(`timeZone: unknown time zone "${s.timeZone}" (an IANA name such as America/New_York)`);
    }
  }
  return problems;
}

export function createCustomer(config: Config, state: ControlState, body: unknown): Outcome {
  const c = parse(customerBody, body);
  if (isRefusal(c)) return c;
  if (state.catalog.customer(c.id)) {
    return state.catalog.configuredCustomers.has(c.id)
      ? refuse('customer_exists', `customer "${c.id}" exists (defined in the config file)`)
      : refuse('customer_exists', `customer "${c.id}" exists; change it with PATCH /admin/customers/${c.id}`);
  }
  const problems = checkScope(config, state, c);
  if (problems.length) return invalid(problems);
  const customer: CustomerConfig = { ...c, keys: [], keyHashes: [] };
  return { ok: true, deltas: [{ t: 'customer', customer }], undo: [{ t: 'customer-deleted', id: c.id }], audit: { action: 'customer.create', target: `customer:${c.id}`, before: null, after: customer }, status: 201, body: customer };
}

export function patchCustomer(config: Config, state: ControlState, id: string, body: unknown): Outcome {
  const before = state.catalog.customer(id);
  if (!before) return refuse('not_found_error', `no customer "${id}"`);
  if (state.catalog.configuredCustomers.has(id)) return managed('customer', id);
  const patch = parse(customerPatch, body);
  if (isRefusal(patch)) return patch;
  // The merged record is validated whole, so a patch can never leave a customer the config file could not hold.
  const merged = customerSchema.safeParse({ ...before, ...patch, id });
  if (!merged.success) return invalid(describeIssues(merged.error.issues, { ...before, ...patch }));
  const problems = checkScope(config, state, merged.data);
  if (problems.length) return invalid(problems);
  const after = merged.data;
  return { ok: true, deltas: [{ t: 'customer', customer: after }], undo: [{ t: 'customer', customer: before }], audit: { action: 'customer.update', target: `customer:${id}`, before, after }, status: 200, body: after };
}

export function deleteCustomer(state: ControlState, id: string): Outcome {
  const before = state.catalog.customer(id);
  if (!before) return refuse('not_found_error', `no customer "${id}"`);
  if (state.catalog.configuredCustomers.has(id)) return managed('customer', id);
  const keys = [...(state.keysOf.get(id) ?? [])].map((k) => state.keys.get(k)!).filter(Boolean);
  return {
    ok: true,
    deltas: [...keys.map((k): ControlDelta => ({ t: 'key-revoked', key_id: k.key_id, hash: k.hash, customer: id })), { t: 'customer-deleted', id }],
    undo: [{ t: 'customer', customer: before }, ...keys.map((key): ControlDelta => ({ t: 'key', key }))],
    audit: { action: 'customer.delete', target: `customer:${id}`, before, after: null },
    status: 200,
    body: { id, deleted: true, keys_revoked: keys.length },
  };
}

export function issueKey(config: Config, state: ControlState, customer: string, body: unknown, now: number): Outcome {
  if (!state.catalog.customer(customer)) return refuse('not_found_error', `no customer "${customer}"`);
  const b = parse(keyBody, body ?? {});
  if (isRefusal(b)) return b;
  // A key's own wallet (a "virtual endpoint"'s credit pool) is checked like a customer's: its currency needs a rate, its alerts known channels.
  const problems = checkScope(config, state, { budgets: b.budgets, wallet: b.wallet });
  if (problems.length) return invalid(problems);
  const expires = b.expires_at === undefined ? null : Date.parse(b.expires_at);
  if (expires !== null && expires <= now) return invalid([`expires_at: in the past (${b.expires_at})`]);
  const secret = KEY_PREFIX + randomBytes(24).toString('base64url');
  const key: KeyRecord = {
    key_id: `key_${randomBytes(8).toString('hex')}`,
    customer,
    hash: hashKey(secret),
    name: b.name ?? null,
    created_at: now,
    expires_at: expires,
    ...(b.budgets ? { budgets: b.budgets } : {}),
    ...(b.rateLimit ? { rateLimit: b.rateLimit } : {}),
    ...(b.models ? { models: b.models } : {}),
    ...(b.wallet ? { wallet: b.wallet } : {}),
  };
  const shown = { key_id: key.key_id, name: key.name, created_at: new Date(now).toISOString(), expires_at: expires === null ? null : new Date(expires).toISOString() };
  const { hash: _hash, ...stored } = key;
  return {
    ok: true,
    deltas: [{ t: 'key', key }],
    undo: [{ t: 'key-revoked', key_id: key.key_id, hash: key.hash, customer }],
    audit: { action: 'key.create', target: `key:${key.key_id}`, before: null, after: stored },
    status: 201,
    body: { key: secret, ...shown, customer },
  };
}

export function revokeKey(state: ControlState, customer: string, keyId: string): Outcome {
  const key = state.keys.get(keyId);
  if (!key || key.customer !== customer) return refuse('not_found_error', `customer "${customer}" has no key "${keyId}"`);
  const { hash: _hash, ...shown } = key;
  return {
    ok: true,
    deltas: [{ t: 'key-revoked', key_id: keyId, hash: key.hash, customer }],
    undo: [{ t: 'key', key }],
    audit: { action: 'key.revoke', target: `key:${keyId}`, before: shown, after: null },
    status: 200,
    body: { key_id: keyId, revoked: true },
  };
}

export function putPlan(config: Config, state: ControlState, name: string, body: unknown): Outcome {
  if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(name)) return invalid([`name: 1-128 characters of A-Z a-z 0-9 . _ : @ - (got ${JSON.stringify(name.slice(0, 40))})`]);
  if (state.catalog.configuredPlans.has(name)) return managed('plan', name);
  const p = parse(planBody, body);
  if (isRefusal(p)) return p;
  const problems = checkScope(config, state, p);
  if (problems.length) return invalid(problems);
  const before = state.catalog.plan(name);
  const plan: PlanConfig = { ...p, name };
  return {
    ok: true,
    deltas: [{ t: 'plan', plan }],
    undo: before ? [{ t: 'plan', plan: before }] : [{ t: 'plan-deleted', name }],
    audit: { action: before ? 'plan.update' : 'plan.create', target: `plan:${name}`, before: before ?? null, after: plan },
    status: before ? 200 : 201,
    body: plan,
  };
}

export function parseReset(state: ControlState, customer: string, body: unknown): { reason: string } | Refusal {
  const c = state.catalog.customer(customer);
  if (!c) return refuse('not_found_error', `no customer "${customer}"`);
  return parse(resetBody, body);
}

function managed(kind: 'customer' | 'plan', id: string): Refusal {
  return refuse('managed_by_config', `${kind} "${id}" is defined in the config file, which manages it: edit the file (API writes may only issue keys${kind === 'customer' ? ' and credit wallets for it' : ''})`);
}
