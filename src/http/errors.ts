import type { Protocol } from '../protocols/call.js';

// Every refusal or failure Tollgate itself produces: one code, its status,
// when it happens and what a client should do. Answers are built only from
// this registry (errorBody, Exchange.fail, errorStatus), so a code cannot
// leak out unregistered and its status cannot drift between call sites.
// docs/errors.md lists every code; test/http/error-registry.test.ts fails
// when one is missing there.

export interface ErrorSpec {
  /** HTTP status of an answer carrying this code (a 4xx or 5xx). */
  status: number;
  /** When Tollgate answers with it. */
  when: string;
  /** What a client should do about it. */
  action: string;
}

export const ERRORS = {
  budget_exceeded: {
    status: 402, // never 429: SDKs would retry it
    when: 'a budget in scope cannot hold the call\'s estimate; `scope` says which budget, its limit, use and reset time; for a prepaid wallet (`scope.period: prepaid`) the balance cannot cover the call, and `top_up_url` says where to buy credit when one is configured',
    action: 'do not retry as is (SDKs do not): wait for `scope.resets_at`, send a cheaper call (smaller `max_tokens`, cheaper model), top up the wallet, or ask the operator to raise the limit',
  },
  rate_limit_exceeded: {
    status: 429,
    when: 'a `rateLimit` window is full, the loop guard refused a repeated call (`code: loop_detected`), or too many failed admin-token attempts came from one address',
    action: 'retry after the `retry-after` header',
  },
  loop_detected: {
    status: 429,
    when: 'the loop guard saw this exact request more than `loop.maxRepeats` times within its window from one scope; sent as `code` on a `rate_limit_exceeded` answer',
    action: 'stop the loop in the agent; retrying the same call after `retry-after` meets the same guard',
  },
  authentication_error: {
    status: 401,
    when: 'no API key, an unknown key, or a wrong admin token',
    action: 'send a valid key (`Authorization: Bearer <key>` or `x-api-key`); do not retry unchanged',
  },
  permission_error: {
    status: 403,
    when: 'a customer key sends `x-tollgate-customer` for another customer',
    action: 'use the customer\'s own key, or an app key with `x-tollgate-customer`',
  },
  invalid_request_error: {
    status: 400,
    when: 'malformed JSON, invalid UTF-8, wrong types or ranges, bad identity headers, a route with no target able to serve the request',
    action: 'fix the request as the message says; do not retry unchanged',
  },
  model_not_priced: {
    status: 400,
    when: '`unknownModel: refuse` and the price table has no price for the model; or (images, speech, audio) the table has no per-image, per-character, per-second or token price for it, whatever `unknownModel` says: a unit call is never let through at $0',
    action: 'use a priced model, or ask the operator to add it to pricing/overrides.json',
  },
  audio_duration_unknown: {
    status: 400,
    when: 'a transcription or translation upload whose duration cannot be read from its container (WAV, MP3, FLAC, Ogg Vorbis/Opus, M4A/MP4 are read) and whose answer would not state it (`response_format` other than `verbose_json`)',
    action: 'send one of the formats read, or ask for `response_format: verbose_json` so the provider states the duration',
  },
  request_too_large: {
    status: 413,
    when: 'the body is larger than `limits.maxBodyBytes` (the connection is closed)',
    action: 'send a smaller request',
  },
  request_timeout: {
    status: 408, // the body did not arrive within limits.bodyTimeout
    when: 'the body did not arrive within `limits.bodyTimeout` (the connection is closed)',
    action: 'retry on a new connection; send the body promptly',
  },
  uri_too_long: {
    status: 414,
    when: 'the URL is longer than `limits.maxUrlBytes`',
    action: 'shorten the URL',
  },
  request_header_too_large: {
    status: 431,
    when: 'the headers are larger than `limits.maxHeaderBytes`',
    action: 'send fewer or smaller headers',
  },
  not_found_error: {
    status: 404,
    when: 'an unknown endpoint, an unknown customer or price in the admin API, metrics disabled, or (count_tokens) no route for the model',
    action: 'check the path, the id or the model name',
  },
  model_not_found: {
    status: 404,
    when: 'no route or provider here serves the model',
    action: 'use a model this proxy serves (`GET /v1/models`)',
  },
  method_not_allowed: {
    status: 405,
    when: 'a known path with the wrong method',
    action: 'use the documented method',
  },
  idempotency_key_reused: {
    status: 409,
    when: 'the idempotency key was already used by a charged call, or a call with it is still in flight (`x-should-retry: false`)',
    action: 'the first call stands (see `original_request_id`); use a new key for a new call, or retry after the one in flight finishes',
  },
  invalid_config: {
    status: 400,
    when: '`POST /admin/reload` read a config that fails validation; the running config stays (`problems` lists each path and problem)',
    action: 'fix the config file as `problems` says and reload again',
  },
  scope_limit_exceeded: {
    status: 403, // retrying does not help: the cap is on live scopes, not on rate
    when: 'a customer already has `limits.dynamicScopesPerCustomer` live agent scopes it does not list in the config, or `limits.dynamicCustomers` app-key customers are live',
    action: 'reuse existing agent ids (or list the agent in the config); idle scopes are reclaimed after `limits.dynamicScopeIdle`',
  },
  ledger_unavailable: {
    status: 503,
    when: 'the usage ledger cannot commit (disk full or failing): no call is admitted, and a call whose row could not be committed in `ledger.commitTimeout` gets this instead of its answer',
    action: 'retry after `retry-after` (on another instance if there is one); the same idempotency key is never charged twice',
  },
  session_limit_exceeded: {
    status: 503,
    when: '`limits.sessions` sessions with session budgets are live: a new session waits for idle ones to end (`sessionTtl` after their last call)',
    action: 'retry after `retry-after`, or reuse a live session id; the operator can raise `limits.sessions`',
  },
  upstream_error: {
    status: 502,
    when: 'no target answered (connection refused, reset, provider refused the proxy\'s own key, an answer that failed part-way); also the code of the OpenAI stream-error event',
    action: 'retry with backoff; the message names each target and why it failed',
  },
  api_error: {
    status: 502,
    when: 'an upstream failure in Anthropic\'s shape: the Anthropic stream-error event, or an upstream error body that could not be translated',
    action: 'retry with backoff; what was generated before a stream failed is billed',
  },
  upstream_timeout: {
    status: 504,
    when: 'every target timed out, or the call was cancelled (total timeout, shutdown)',
    action: 'retry with backoff, or lower `max_tokens` so the answer finishes in time',
  },
  overloaded_error: {
    status: 503,
    when: 'the proxy is draining, too many calls or exports are in flight, every target is cooling down, or a shard or the store did not answer',
    action: 'retry after `retry-after` (or shortly), on another instance if draining',
  },
  budget_unavailable: {
    status: 503, // cluster: Redis unreachable and this node's lease used up (redisDown: closed)
    when: 'in a cluster, Redis is unreachable and this node\'s lease of the budget is used up (`redisDown: closed`); nothing was reserved',
    action: 'retry after `retry-after`; nothing was charged',
  },
  wallet_not_configured: {
    status: 409,
    when: 'a wallet credit or wallet read for a customer that has no `wallet` (on itself or its plan)',
    action: 'give the customer or its plan `wallet: { currency }`, then credit it',
  },
  customer_disabled: {
    status: 403,
    when: "the key's customer was disabled through the admin API (`PATCH /admin/customers/:id` with `disabled: true`)",
    action: 'ask the operator to enable the customer; do not retry unchanged',
  },
  model_not_allowed: {
    status: 403,
    when: "the issued key's `models` allow-list does not include the model asked for",
    action: "call one of the key's allowed models, or ask the operator for a key that may call this one",
  },
  admin_read_only: {
    status: 403,
    when: 'a `read` admin token (`adminTokens[].role: read`) sent a write (any admin route other than GET)',
    action: 'use an `admin` token for writes',
  },
  customer_exists: {
    status: 409,
    when: '`POST /admin/customers` with an id that already exists (configured or created earlier)',
    action: 'use `PATCH /admin/customers/:id`, or another id',
  },
  managed_by_config: {
    status: 409,
    when: 'an admin API write would change a customer or plan defined in the config file (the file manages them; issuing keys and crediting wallets are allowed)',
    action: 'edit the config file instead (and restart), or create a runtime customer or plan under another id',
  },
  not_in_cluster_mode: {
    status: 409,
    when: 'an admin write a node sharing Redis with others cannot make yet: a spend reset (every node reports its settled spend to Redis as a running total, which would undo it)',
    action: 'raise the budget instead (PATCH the customer or PUT its plan with a higher limit: the spend is kept and the room grows at once on every node), or reset on a single-node deployment',
  },
  capacity_exhausted: {
    status: 507,
    when: 'a control-plane write would need more budget slots than the budget table (sized at start) holds',
    action: 'restart (the table is sized from the stored state + `control.slotHeadroom`) or raise `maxBudgetSlots`; nothing was written',
  },
  cluster_ledger_unavailable: {
    status: 503, // ledger.postgres set and the database unreachable: reads do not fall back to this node's rows alone
    when: 'with `ledger.postgres` set, an admin usage listing, export or report could not read the cluster ledger (PostgreSQL unreachable or failing); calls are still served and their rows ship once it is back',
    action: 'retry after `retry-after`; `tollgate report --local` reads this node\'s own rows meanwhile',
  },
  rate_limit_unavailable: {
    status: 503, // cluster: Redis unreachable and this node's grant of a velocity window used up (redisDown: closed)
    when: 'in a cluster, Redis is unreachable and this node\'s grant of a `rateLimit` window is used up (`redisDown: closed`); nothing was reserved',
    action: 'retry after `retry-after`; nothing was charged',
  },
  idempotency_unavailable: {
    status: 503, // cluster: Redis unreachable, so no node can tell whether another runs this key (redisDown: closed)
    when: 'in a cluster, a call carries an `idempotency-key` while Redis is unreachable (`redisDown: closed`): whether another node runs or ran it cannot be checked; nothing was forwarded',
    action: 'retry with the same key after `retry-after`; it is never charged twice',
  },
  internal_error: {
    status: 500,
    when: 'a fault inside the proxy (logged with the request id); a model call refused this way was not charged',
    action: 'retry once; report the `x-tollgate-request-id` to the operator if it persists',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorType = keyof typeof ERRORS;

/** The status of an answer carrying `type` (its literal type, so result types can keep their status unions). */
export function errorStatus<T extends ErrorType>(type: T): (typeof ERRORS)[T]['status'] {
  return ERRORS[type].status;
}

export function errorBody(protocol: Protocol, type: ErrorType, message: string, extra: Record<string, unknown> = {}): unknown {
  return protocol === 'anthropic'
    ? { type: 'error', error: { type, message, ...extra } }
    : { error: { type, code: type, message, ...extra } };
}
