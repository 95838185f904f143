import { z } from 'zod';

// One schema for the whole config file. Validated once, in the main thread,
// before any shard starts; shards receive the validated, frozen result.

const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 5m, 1h or 1d'),
]).transform(parseDuration);

export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v)!;
  const n = Number(m[1]);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return n * mult;
}

const currencyOrUnit = z.string().regex(/^([A-Z]{3}|tokens|requests)$/, 'a 3-letter currency code (USD, GBP, ...), "tokens" or "requests"');

export const budgetSchema = z.object({
  limit: z.number().positive(),
  unit: currencyOrUnit,
  period: z.enum(['day', 'week', 'month', 'total']),
  // Soft cap: the hard stop sits at limit × (1 + burst).
  burst: z.number().min(0).max(10).default(0),
  // Accepted now so configs written for the policies feature load; acted on by the policy engine.
  thresholds: z.array(z.object({
    at: z.number().positive().max(10),
    action: z.enum(['warn', 'degrade', 'block']),
    model: z.string().optional(),
    notify: z.array(z.string()).default([]),
  }).strict()).default([]),
}).strict();

const refusal = z.object({
  mode: z.enum(['error', 'message']).default('error'),
  topUpUrl: z.string().optional(),
}).strict();

const rateLimit = z.object({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
}).strict();

const scopeOptions = {
  budgets: z.array(budgetSchema).default([]),
  clampMaxTokens: z.boolean().optional(),
  rateLimit: rateLimit.optional(),
  refusal: refusal.optional(),
};

const keyString = z.string().min(8, 'keys must be at least 8 characters');
const keyHash = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits>');

const agentSchema = z.object({
  id: z.string().min(1).max(200),
  budgets: z.array(budgetSchema).default([]),
}).strict();

const customerSchema = z.object({
  id: z.string().min(1).max(200).regex(/^[^\s/]+$/, 'no spaces or slashes'),
  plan: z.string().optional(),
  keys: z.array(keyString).default([]),
  keyHashes: z.array(keyHash).default([]),
  agents: z.array(agentSchema).default([]),
  // Budgets every agent scope of this customer gets unless listed in `agents`.
  agentDefaults: z.object({ budgets: z.array(budgetSchema).default([]) }).strict().optional(),
  ...scopeOptions,
}).strict();

const planSchema = z.object({
  name: z.string().min(1),
  agentDefaults: z.object({ budgets: z.array(budgetSchema).default([]) }).strict().optional(),
  ...scopeOptions,
}).strict();

const breaker = z.object({
  failures: z.number().int().positive().default(5),
  cooldown: duration.default(30_000),
}).strict();

const providerSchema = z.object({
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -'),
  type: z.enum(['openai', 'anthropic']),
  baseUrl: z.string().url(),
  apiKey: z.string().default(''),
  // Models this provider serves when no route names them (globs: * matches anything).
  models: z.array(z.string()).default([]),
  headers: z.record(z.string()).default({}),
  connections: z.number().int().positive().max(4096).default(256),
  timeouts: z.object({
    connect: duration.default(10_000),
    firstByte: duration.default(120_000),
    total: duration.default(600_000),
  }).strict().default({}),
  breaker: breaker.optional(),
}).strict();

const targetSchema = z.object({
  provider: z.string(),
  model: z.string().min(1),
  weight: z.number().positive().default(1),
  priority: z.number().int().min(0).default(0),
  breaker: breaker.optional(),
}).strict();

const routeSchema = z.object({
  model: z.string().min(1),
  targets: z.array(targetSchema).min(1),
}).strict();

export const configSchema = z.object({
  listen: z.object({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(8080),
  }).strict().default({}),
  // Worker threads serving the port; 0 = one per core.
  shards: z.number().int().min(0).max(64).default(0),
  dataDir: z.string().default('./data'),
  ledger: z.object({
    // true: every commit is flushed to disk (survives power loss). false: the OS
    // writes back (survives process crashes, not OS crashes); about 2x throughput.
    sync: z.boolean().default(true),
  }).strict().default({}),
  redis: z.string().url().optional(),
  adminToken: z.string().optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  limits: z.object({
    maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
    maxHeaderBytes: z.number().int().positive().default(16 * 1024),
    maxUpstreamBodyBytes: z.number().int().positive().default(64 * 1024 * 1024),
  }).strict().default({}),
  // IANA zone whose calendar days/weeks/months budgets follow.
  timezone: z.string().default('UTC'),
  // Units of each currency per 1 USD (e.g. GBP: 0.79). USD is always 1.
  exchangeRates: z.record(z.string().regex(/^[A-Z]{3}$/), z.number().positive()).default({}),
  // What to do with a model the price table does not know.
  unknownModel: z.enum(['refuse', 'allow']).default('refuse'),
  // Output tokens assumed when a request sets no max and the table has no max.
  defaultMaxOutputTokens: z.number().int().positive().default(4096),
  // A reservation never settled (stuck call, lost worker) is released after this.
  reservationTtl: duration.default(15 * 60_000),
  // SIGTERM: how long in-flight calls may take before they are cancelled.
  shutdownGrace: duration.default(30_000),
  idempotencyWindow: duration.default(24 * 3_600_000),
  maxBudgetSlots: z.number().int().positive().max(4_000_000).default(131_072),
  providers: z.array(providerSchema).default([]),
  routes: z.array(routeSchema).default([]),
  plans: z.array(planSchema).default([]),
  customers: z.array(customerSchema).default([]),
  appKeys: z.array(keyString).default([]),
  appKeyHashes: z.array(keyHash).default([]),
  defaultPlan: z.string().optional(),
  // Accepted so a full config loads; delivered by the alerts feature.
  alerts: z.unknown().optional(),
}).strict();

export type Config = z.infer<typeof configSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type CustomerConfig = z.infer<typeof customerSchema>;
export type PlanConfig = z.infer<typeof planSchema>;
