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
  period: z.enum(['day', 'week', 'month', 'quarter', 'year', 'total']),
  // Shadow budget: false never refuses; a call it would have refused is served and
  // flagged (reason shadow_budget_exceeded), and its thresholds notify as usual.
  enforce: z.boolean().default(true),
  // Soft cap: the hard stop sits at limit × (1 + burst).
  burst: z.number().min(0).max(10).default(0),
  // Each threshold acts once spend (settled + reserved) reaches `at` × limit in the
  // current period. Crossing it alerts `notify` once per period (and a resolved alert
  // follows when a new period or a raised limit brings spend back under it). warn: the
  // alert only. degrade: while spend stays at or above it, calls go to `model` instead
  // of the one asked for (the highest degrade threshold reached wins). block: the hard
  // stop moves down to `at` × limit when that is below limit × (1 + burst).
  thresholds: z.array(z.object({
    at: z.number().positive().max(10),
    action: z.enum(['warn', 'degrade', 'block']),
    model: z.string().optional(),
    notify: z.array(z.string()).default([]),
  }).strict()).default([]),
}).strict();

// A cap on each session (x-tollgate-session) for its whole lifetime: no period, no burst.
export const sessionBudgetSchema = z.object({
  limit: z.number().positive(),
  unit: currencyOrUnit,
}).strict();

const refusal = z.object({
  mode: z.enum(['error', 'message']).default('error'),
  topUpUrl: z.string().optional(),
}).strict();

// A prepaid balance that never resets (docs/interface.md, "Prepaid wallets"): every call
// reserves from it and settles to it like a budget; credits raise it. lowBalance alerts
// once each time the balance falls below `below` (in the wallet's currency); a top-up that
// lifts it back above re-arms the alert.
export const walletSchema = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/, 'a 3-letter currency code (USD, GBP, ...)').default('USD'),
  lowBalance: z.array(z.object({
    below: z.number().positive(),
    notify: z.array(z.string()).default([]),
  }).strict()).default([]),
  // Where a customer buys credit: on the 402 and in the friendly refusal; {customer} is replaced.
  topUpUrl: z.string().optional(),
}).strict();

// Velocity caps over sliding windows (the last 60 s / 3600 s), enforced in the decision.
const rateLimit = z.object({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
  usdPerMinute: z.number().positive().optional(),
  requestsPerHour: z.number().int().positive().optional(),
  tokensPerHour: z.number().int().positive().optional(),
  usdPerHour: z.number().positive().optional(),
}).strict();

// The same request body from the same scope more than maxRepeats times in a window is refused.
const loopProtection = z.object({
  maxRepeats: z.number().int().positive().default(20),
  window: duration.default(60_000),
}).strict();

// Resale: what a customer pays per 1M tokens for a model, instead of cost × markup.
const customPrice = z.object({
  input: z.number().min(0),
  output: z.number().min(0),
  cachedInput: z.number().min(0).optional(),
}).strict();

const scopeOptions = {
  budgets: z.array(budgetSchema).default([]),
  // Each applies to every session of the customer; a plan's and the customer's both apply.
  sessionBudgets: z.array(sessionBudgetSchema).max(4, 'at most 4 session budgets per plan or customer').default([]),
  // Billed = provider cost × markup (1.3 = 30% margin); budgets count the billed amount.
  markup: z.number().min(0).max(100).optional(),
  prices: z.record(customPrice).optional(),
  clampMaxTokens: z.boolean().optional(),
  rateLimit: rateLimit.optional(),
  loopProtection: loopProtection.optional(),
  refusal: refusal.optional(),
};

const keyString = z.string().min(8, 'keys must be at least 8 characters');
const keyHash = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits>');

// Free-form labels an operator attaches to a customer (searched by GET /admin/customers?metadata.k=v).
const metadataSchema = z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'metadata names: 1-64 of A-Z a-z 0-9 . _ -'), z.string().max(256))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata entries');

const agentSchema = z.object({
  id: z.string().min(1).max(200),
  budgets: z.array(budgetSchema).default([]),
  rateLimit: rateLimit.optional(),
}).strict();

const agentDefaults = z.object({
  budgets: z.array(budgetSchema).default([]),
  rateLimit: rateLimit.optional(),
}).strict();

export const customerSchema = z.object({
  id: z.string().min(1).max(200).regex(/^[^\s/]+$/, 'no spaces or slashes'),
  plan: z.string().optional(),
  keys: z.array(keyString).default([]),
  keyHashes: z.array(keyHash).default([]),
  agents: z.array(agentSchema).default([]),
  // Budgets every agent scope of this customer gets unless listed in `agents`.
  agentDefaults: agentDefaults.optional(),
  // IANA zone of this customer's calendar periods (default: the plan's, else the global timeZone).
  timeZone: z.string().optional(),
  wallet: walletSchema.optional(),
  metadata: metadataSchema.optional(),
  // A disabled customer's keys get 403 customer_disabled (its usage and spend stay).
  disabled: z.boolean().default(false),
  ...scopeOptions,
}).strict();

export const planSchema = z.object({
  name: z.string().min(1),
  agentDefaults: agentDefaults.optional(),
  timeZone: z.string().optional(),
  wallet: walletSchema.optional(),
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
  // Price every model of this provider as this table id (Azure deployment names); a target's wins.
  priceAs: z.string().min(1).optional(),
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
  // Price this target as this table id (an Azure deployment name says nothing about the model).
  priceAs: z.string().min(1).optional(),
  weight: z.number().positive().default(1),
  priority: z.number().int().min(0).default(0),
  breaker: breaker.optional(),
  // Overrides the provider's; connect stays per provider (one pool per provider).
  timeouts: z.object({ firstByte: duration.optional(), total: duration.optional() }).strict().optional(),
}).strict();

// When a failed upstream call (before any byte reached the client) moves on
// to the next target: statuses, status classes, transport failure kinds.
const retryCondition = z.union([
  z.number().int().min(400).max(599),
  z.enum(['4xx', '5xx', 'connect', 'reset', 'timeout']),
]);
const retrySchema = z.object({
  // Upstream calls one client call may make, the first included.
  maxAttempts: z.number().int().min(1).max(10).default(3),
  on: z.array(retryCondition).default([408, 429, '5xx', 'connect', 'reset', 'timeout']),
}).strict();

const routeSchema = z.object({
  model: z.string().min(1),
  targets: z.array(targetSchema).min(1),
  retry: z.object({ maxAttempts: z.number().int().min(1).max(10).optional(), on: z.array(retryCondition).optional() }).strict().optional(),
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
    // writes back (survives process crashes, not OS crashes); about 20 % more
    // throughput in the README's benchmark (the fdatasync is ~9 % of CPU).
    sync: z.boolean().default(true),
    // Calls are refused (503 ledger_unavailable, /readyz 503) while the data
    // directory's filesystem has less free space than this, before a commit can fail.
    minFreeBytes: z.number().int().min(0).default(16 * 1024 * 1024),
    // A call whose usage row failed to commit waits this long for a retry to
    // succeed before its client gets an error (the row stays held and is written when the disk accepts it).
    commitTimeout: duration.default(10_000),
    // The cluster ledger (src/store/pg/): every node ships its usage rows to this PostgreSQL database behind
    // its local commit, and usage, reports, the CLI and the dashboard read the whole cluster from it.
    postgres: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL').optional(),
    shipping: z.object({
      // Rows per batch (one transaction each).
      batchRows: z.number().int().min(1).max(50_000).default(2000),
      // Pause between looks for new rows once caught up.
      interval: duration.default(200),
      // Rows committed late (a call's row has the ts its call started) are looked for this far behind the cursor:
      // at least the longest call (providers' timeouts.total, 10 minutes by default) plus its retries.
      lookback: duration.default(15 * 60_000),
      // How often that window is checked for late rows.
      sweep: duration.default(5_000),
      // Longest pause between retries while the database is unreachable.
      maxBackoff: duration.default(30_000),
    }).strict().default({}),
    // The journal (the durability point, written behind into LMDB) starts a new
    // segment file past this size; segments LMDB has durably are deleted.
    journalSegmentBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
  }).strict().default({}),
  // Usage rows older than `usageRows` are deleted in small batches; aggregates
  // and report indexes are kept. Unset: every row is kept.
  retention: z.object({
    usageRows: duration.optional(),
    every: duration.default(3_600_000),
    batchSize: z.number().int().positive().max(100_000).default(500),
  }).strict().default({}),
  // Monitoring mode (/v1/usage/*): an authorized reservation not settled or
  // released within this is expired and its hold returned.
  monitoring: z.object({
    reservationTtl: duration.default(10 * 60_000),
  }).strict().default({}),
  reports: z.object({
    // Distinct values one tag name may take per customer and day in the
    // report index; more are counted under "name=(other)".
    maxTagValuesPerDay: z.number().int().positive().max(1_000_000).default(1000),
  }).strict().default({}),
  redis: z.string().url().optional(),
  // Several nodes sharing budgets through `redis` (src/cluster/); ignored without it.
  cluster: z.object({
    // Stable name of this node in Redis; default: generated once and kept in dataDir/node-id.
    nodeId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').optional(),
    // A lease not renewed within this returns to the pool (a node killed with -9).
    leaseTtl: duration.default(10_000),
    // Once the leases held run out while Redis is unreachable: refuse (503 budget_unavailable) or allow and account locally.
    redisDown: z.enum(['closed', 'open']).default('closed'),
    // Write-behind period: spend, usage counters, top-ups and returns go to Redis in one batch per tick.
    flushInterval: duration.default(200),
    // A budget with unused lease and no activity for this long gives the lease back.
    idleReturn: duration.default(3_000),
    // Share of the unclaimed global remainder one lease takes, split between active nodes.
    leaseFraction: z.number().gt(0).max(1).default(0.5),
    // A Redis command slower than this counts as Redis being unreachable.
    redisTimeout: duration.default(1_000),
    keyPrefix: z.string().max(100).default('tollgate:'),
  }).strict().default({}),
  adminToken: z.string().optional(),
  // Named admin tokens (issue 13): `read` may use every GET admin route, `admin` every route.
  // `adminToken` stays valid as an `admin` token named "admin". Audit entries name the token.
  adminTokens: z.array(z.object({
    name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ @ -'),
    token: z.string().min(16, 'admin tokens must be at least 16 characters'),
    role: z.enum(['admin', 'read']),
  }).strict()).default([]),
  // Runtime control plane (customers, keys, plans written through the admin API; src/control/).
  control: z.object({
    // Budget slots kept free for runtime customers beyond what the stored state needs at start
    // (the budget table is sized once: max(maxBudgetSlots, state + this)). A create past it gets 507 capacity_exhausted.
    slotHeadroom: z.number().int().min(0).max(4_000_000).default(65_536),
    // How often shards hand last_used_at of keys to the supervisor (one batched write).
    lastUsedFlush: duration.default(5_000),
  }).strict().default({}),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  limits: z.object({
    maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
    maxHeaderBytes: z.number().int().positive().default(16 * 1024),
    maxUpstreamBodyBytes: z.number().int().positive().default(64 * 1024 * 1024),
    // Request line (path + query) longer than this: 414.
    maxUrlBytes: z.number().int().positive().default(8 * 1024),
    // The whole request body must arrive within this (slow-loris senders): 408.
    bodyTimeout: duration.default(30_000),
    // A streaming client that takes no bytes for this long is disconnected (its call is recorded as 499).
    clientStallTimeout: duration.default(30_000),
    // Failed admin-token attempts per client address per minute before 429.
    adminAuthFailuresPerMinute: z.number().int().positive().default(10),
    // Scopes created on first use (x-tollgate-agent values not listed under the customer's agents;
    // customers first seen through an app key) are capped, then refused with 403 scope_limit_exceeded.
    // Budget slots of configured customers are reserved and never taken by them.
    dynamicScopesPerCustomer: z.number().int().positive().default(1000),
    dynamicCustomers: z.number().int().positive().default(10_000),
    // All dynamic scopes together (the shared table shards check them against).
    dynamicScopes: z.number().int().positive().max(4_000_000).default(100_000),
    // A dynamic scope with no call for this long releases its slots (its spend stays in the ledger
    // and is re-read on its next call). The longer of this, reservationTtl and monitoring.reservationTtl applies.
    dynamicScopeIdle: duration.default(3_600_000),
    // Sessions (x-tollgate-session) with session budgets tracked at once, across all shards (rounded up
    // to a multiple of 16). Memory: 8 × (3 + 2 × session budgets) + 0.25 bytes each, allocated at start
    // only when some plan or customer has sessionBudgets (1M with one session budget: 40.25 MB). A new
    // session whose two buckets hold only live sessions gets 503 session_limit_exceeded (1M sessions into
    // 1M entries: 2.1 % refused; into 1.05M: 0.4 %; size it ~10 % above the live sessions you expect).
    sessions: z.number().int().min(16).max(16_000_000).default(1_000_000),
  }).strict().default({}),
  // GET /metrics (Prometheus text).
  metrics: z.object({
    enabled: z.boolean().default(true),
    // When set, a scrape must send Authorization: Bearer <token>.
    token: z.string().optional(),
    // Per-customer series: the top N by spend plus these ids; everyone else is one "__other__" series.
    customerSeries: z.object({
      top: z.number().int().min(0).max(1000).default(10),
      include: z.array(z.string()).max(1000).default([]),
    }).strict().default({}),
  }).strict().default({}),
  // Push the /metrics families over OTLP/HTTP (JSON) to a collector every `interval`; unset: off.
  otel: z.object({
    // The receiver's base URL (http://collector:4318); /v1/metrics is added unless the path already ends with it.
    endpoint: z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'an http:// or https:// URL'),
    interval: duration.refine((ms) => ms >= 100, 'at least 100ms').default(15_000),
    // Sent with every export (e.g. an API key of a hosted collector); values may use ${ENV} substitution.
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name'), z.string().regex(/^[^\r\n\0]*$/, 'a header value without line breaks')).default({}),
  }).strict().optional(),
  // IANA zone whose calendar days/weeks/months budgets follow.
  timezone: z.string().default('UTC'),
  // Same as `timezone` (the spelling customers and plans use); wins when both are given.
  timeZone: z.string().optional(),
  // Units of each currency per 1 USD (e.g. GBP: 0.79). USD is always 1.
  exchangeRates: z.record(z.string().regex(/^[A-Z]{3}$/), z.number().positive()).default({}),
  // Path of the price table (default: the bundled pricing/models.json); reloaded when it changes.
  pricingTable: z.string().optional(),
  // What to do with a model the price table does not know.
  // refuse: 400 model_not_priced. allow: serve at zero cost, flagged (price_source unknown,
  // log warning, metrics). default: serve at unknownModelPrice.
  unknownModel: z.enum(['refuse', 'allow', 'default']).default('refuse'),
  unknownModelPrice: z.object({ input: z.number().min(0), output: z.number().min(0) }).strict().optional(),
  // Output tokens assumed when a request sets no max and the table has no max.
  defaultMaxOutputTokens: z.number().int().positive().default(4096),
  // Output held for a call that sets no output cap: a percentile of the recent
  // completions of the same customer and model × margin, clamped to
  // [minTokens, the model's max]; defaultTokens until minSamples were seen
  // (docs/interface.md, "Reservations").
  reservations: z.object({
    percentile: z.number().min(1).max(100).default(95),
    margin: z.number().min(1).max(10).default(1.25),
    defaultTokens: z.number().int().positive().default(256),
    minTokens: z.number().int().positive().default(16),
    minSamples: z.number().int().positive().max(64).default(8),
    maxKeys: z.number().int().positive().max(1_000_000).default(10_000),
  }).strict().default({}),
  // A session ends this long after its last call: its session budgets start over if its id is used again.
  sessionTtl: duration.refine((v) => v >= 1000, 'at least 1s').default(24 * 3_600_000),
  // A reservation never settled (stuck call, lost worker) is released after this.
  reservationTtl: duration.default(15 * 60_000),
  // SIGTERM: how long in-flight calls may take before they are cancelled.
  shutdownGrace: duration.default(30_000),
  idempotencyWindow: duration.default(24 * 3_600_000),
  // Calls with an idempotency key in flight at once, across all shards (~25 bytes each); past it they get 503.
  maxIdempotencyClaims: z.number().int().positive().max(16_000_000).default(65_536),
  maxBudgetSlots: z.number().int().positive().max(4_000_000).default(131_072),
  providers: z.array(providerSchema).default([]),
  routes: z.array(routeSchema).default([]),
  retry: retrySchema.default({}),
  plans: z.array(planSchema).default([]),
  customers: z.array(customerSchema).default([]),
  appKeys: z.array(keyString).default([]),
  appKeyHashes: z.array(keyHash).default([]),
  defaultPlan: z.string().optional(),
  alerts: z.object({
    channels: z.array(z.discriminatedUnion('type', [
      z.object({ name: z.string().min(1), type: z.literal('webhook'), url: z.string().url(), secret: z.string().optional() }).strict(),
      z.object({ name: z.string().min(1), type: z.literal('slack'), url: z.string().url() }).strict(),
      z.object({
        name: z.string().min(1), type: z.literal('email'), smtp: z.string().url(),
        from: z.string().min(3), to: z.array(z.string().min(3)).min(1),
      }).strict(),
    ])).default([]),
    // Spend-rate spikes: short window vs trailing baseline, per budget slot.
    anomaly: z.object({
      factor: z.number().min(1).default(5),
      window: duration.default(5 * 60_000),
      baseline: duration.default(60 * 60_000),
      minUsd: z.number().min(0).default(1),
      notify: z.array(z.string()).default([]),
    }).strict().optional(),
    // Channels for alerts that belong to no budget threshold (loops, spend spikes); default: all.
    notify: z.array(z.string()).optional(),
    // Delivery retries back off from 1 s up to this, forever (the outbox is durable).
    maxBackoff: duration.default(5 * 60_000),
  }).strict().default({}),
  // Signed top-ups from a payment provider (POST /v1/wallet/credits): the HMAC-SHA256 key
  // of x-tollgate-signature. Unset: the endpoint answers 401 to every request.
  wallet: z.object({
    webhookSecret: z.string().min(16, 'at least 16 characters').optional(),
    maxBodyBytes: z.number().int().positive().max(1024 * 1024).default(16 * 1024),
  }).strict().default({}),
  // A last user message equal to this is answered by the proxy with the scope's balance ('' disables).
  balanceCommand: z.string().default('/balance'),
}).strict();

export type Config = z.infer<typeof configSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type SessionBudgetConfig = z.infer<typeof sessionBudgetSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type CustomerConfig = z.infer<typeof customerSchema>;
export type PlanConfig = z.infer<typeof planSchema>;
export type WalletConfig = z.infer<typeof walletSchema>;
