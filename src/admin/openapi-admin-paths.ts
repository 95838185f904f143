import { AUTHORIZE_PATH } from '../monitoring/authorize.js';
import { RELEASE_PATH } from '../monitoring/monitoring-api.js';
import { EVENTS_PATH } from '../monitoring/usage-event.js';
import { STATUS_PATH } from '../monitoring/usage-status.js';
import { ADMIN_SECURITY, CALLER_HEADERS, CLIENT_SECURITY, errors, json, pathParam, query, ref, type Operation, type PathItem } from './openapi-paths.js';

// Monitoring, admin and operations routes of GET /admin/openapi.json. Query
// parameters are those the admin parsers read (usage-query.ts,
// report-query.ts, usage-search.ts, customer-list.ts); the test checks that
// every name they read is documented here.

const ADMIN_ERRORS = [400, 401, 404, 429, 503];
const obj = (properties: Record<string, unknown> = {}) => ({ type: 'object', additionalProperties: true, properties });

const admin = (operationId: string, summary: string, extra: Partial<Operation> & { ok?: unknown } = {}): PathItem => {
  const { ok, ...rest } = extra;
  return {
    get: {
      operationId, summary, tags: ['admin'], security: ADMIN_SECURITY,
      responses: { '200': ok ?? json('OK', obj()), ...errors('openai', ADMIN_ERRORS) },
      ...rest,
    },
  };
};

const withCsv = (description: string, schema: unknown) => ({
  description,
  content: { 'application/json': { schema }, 'text/csv': { schema: { type: 'string' } } },
});

const FORMAT = query('format', '`json` (default) or `csv` (a download).', { type: 'string', enum: ['json', 'csv'], default: 'json' });
const RANGE = [
  query('from', 'First day (YYYY-MM-DD) or an ISO time (its day).'),
  query('to', 'Last day, inclusive (YYYY-MM-DD) or an ISO time.'),
  query('month', 'YYYY-MM instead of from/to.', { type: 'string', pattern: '^\\d{4}-\\d{2}$' }),
  FORMAT,
];
const CUSTOMER = query('customer', 'The customer id.', { type: 'string' }, true);
const report = (operationId: string, summary: string, parameters: unknown[]) =>
  admin(operationId, summary, { parameters, ok: withCsv('The report.', obj({ customer: { type: 'string' }, from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } })) });

function monitoring(operationId: string, summary: string, body: string, ok: unknown): PathItem {
  return {
    post: {
      operationId, summary, tags: ['monitoring'], security: CLIENT_SECURITY, parameters: CALLER_HEADERS,
      requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
      responses: { '200': ok, ...errors('openai', [400, 401, 402, 403, 413, 429, 500, 503]) },
    },
  };
}

export function adminPaths(): Record<string, PathItem> {
  return {
    [AUTHORIZE_PATH]: monitoring('usage_authorize', 'Reserve the worst-case cost of a call the app makes itself (refused as a proxied call would be)', 'AuthorizeRequest',
      json('Allowed: a hold until expires_at.', obj({ allowed: { const: true }, reservation_id: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' }, model: { type: 'string' }, degraded_from: { type: 'string' }, max_tokens: { type: 'integer' } }))),
    [EVENTS_PATH]: monitoring('usage_events', 'Record what a call used: settles its reservation, or charges directly', 'UsageEventRequest',
      json('Recorded (or a duplicate of a recorded event: duplicate: true).', obj({ request_id: { type: 'string' }, cost_usd: { type: ['number', 'null'] }, billed: { type: ['number', 'null'] }, duplicate: { type: 'boolean' } }))),
    [RELEASE_PATH]: monitoring('usage_release', 'Return the hold of a call that never happened', 'ReleaseRequest',
      json('Released (or already settled, released or expired).', obj({ released: { type: 'boolean' }, reservation: { type: 'string' } }))),
    [STATUS_PATH]: {
      get: {
        operationId: 'usage_status', tags: ['monitoring'], summary: 'The budgets in scope of the calling key (what `getStatus()` of tollgate/client returns)',
        security: CLIENT_SECURITY, parameters: CALLER_HEADERS,
        responses: { '200': json('The caller\'s scope and its budgets.', obj({ customer: { type: 'string' }, agent: { type: ['string', 'null'] }, budgets: { type: 'array', items: obj() } })), ...errors('openai', [400, 401, 403, 500]) },
      },
    },

    '/admin/customers': admin('list_customers', 'Customers (configured and seen in the ledger), with their budget state', {
      parameters: [query('q', 'Substring of the id, case-insensitive.'), query('prefix', 'Start of the id.'), query('cursor', 'next_cursor of the previous page (the last id shown).'), query('offset', 'Default 0.', { type: 'integer', minimum: 0 }), query('limit', 'Default 100.', { type: 'integer', minimum: 0, maximum: 1000 })],
    }),
    '/admin/customers/{id}': admin('get_customer', 'Every budget in scope with its live counters, and the month\'s totals', {
      parameters: [pathParam('id', 'The customer id.'), query('agent', 'An agent scope of the customer.')],
      ok: json('The customer.', obj({ id: { type: 'string' }, plan: { type: ['string', 'null'] }, metadata: { type: 'object', additionalProperties: { type: 'string' } }, configured: { type: 'boolean', description: 'Defined in the config file (API writes refused)' }, disabled: { type: 'boolean' }, budgets: { type: 'array', items: ref('CustomerBudget') }, month: obj() })),
    }),
    '/admin/usage': admin('list_usage', 'Usage rows, oldest first, a page at a time', {
      parameters: [
        query('customer', 'Only this customer.'), query('from', 'ISO date or time.'), query('to', 'ISO date or time.'),
        query('limit', 'Rows per page (default 1000; CSV: all).', { type: 'integer', minimum: 1, maximum: 1_000_000 }),
        query('cursor', 'next_cursor of the previous page.'), FORMAT,
      ],
      ok: withCsv('A page of rows.', ref('UsagePage')),
    }),
    '/admin/stats': admin('stats', 'Decision latency percentiles and call counts across shards'),
    '/admin/whoami': admin('whoami', 'The name and role of the admin token presented', { ok: json('The token.', obj({ name: { type: 'string' }, role: { type: 'string', enum: ['admin', 'read'] } })) }),
    '/admin/pricing/{model}': admin('explain_price', 'How a model is priced: the matched table entry, provider and customer price', {
      parameters: [pathParam('model', 'The model id.'), query('provider', 'A provider hint.'), query('priceAs', 'Price as this model.'), query('customer', 'Apply this customer\'s resale prices.')],
    }),
    '/admin/reports/daily': report('report_daily', 'Spend and calls per day for a customer', [
      CUSTOMER, ...RANGE, query('model', 'Only this model.'), query('agent', 'Only this agent.'), query('tag', 'Only this tag (name=value).'),
    ]),
    '/admin/reports/summary': report('report_summary', 'Totals of a customer over a range (default: the last 30 days)', [CUSTOMER, ...RANGE]),
    '/admin/reports/monthly': report('report_monthly', 'Totals of a customer over a month (default: this month)', [CUSTOMER, ...RANGE]),
    '/admin/reports/breakdown': report('report_breakdown', 'A customer\'s spend by model, agent or tag', [
      CUSTOMER, query('by', 'The dimension.', { type: 'string', enum: ['model', 'agent', 'tag'] }, true), ...RANGE,
    ]),
    '/admin/reports/customers': report('report_customers', 'Spend of every customer over a range', RANGE),
    '/admin/reports/usage': admin('search_usage', 'A customer\'s usage rows, filtered', {
      parameters: [
        CUSTOMER, query('from', 'A day (whole day) or an ISO time.'), query('to', 'A day (inclusive) or an ISO time.'),
        query('model', 'Only this model.'), query('agent', 'Only this agent.'), query('decision', 'allowed or blocked.', { type: 'string', enum: ['allowed', 'blocked'] }),
        query('cursor', 'next_cursor of the previous page.'), query('limit', 'Rows per page (default 100, at most 10000; CSV: all).', { type: 'integer', minimum: 1 }), FORMAT,
      ],
      ok: withCsv('A page of rows.', ref('UsagePage')),
    }),
    '/admin/providers': admin('providers', 'Providers and the health of their targets (state, cooldown, last error, latency), merged across shards'),
    '/admin/reload': {
      post: {
        operationId: 'reload', tags: ['admin'], security: ADMIN_SECURITY,
        summary: 'Re-read the config file\'s providers and routes (as SIGHUP)',
        responses: { '200': json('Applied.', obj({ ok: { const: true } })), ...errors('openai', ADMIN_ERRORS) },
      },
    },
    '/admin/budgets/drift': admin('budget_drift', 'Every live budget counter against the ledger\'s sum for its period (drift = counter − ledger, in the budget\'s unit)', {
      parameters: [query('all', '`true`: list every budget checked, not only the ones that differ.', { type: 'boolean' })],
      ok: json('The check.', obj({ checked_at: { type: 'string', format: 'date-time' }, checked: { type: 'integer' }, drifted: { type: 'integer' }, repaired: { type: 'integer' }, busy: { type: 'integer' }, budgets: { type: 'array', items: obj() } })),
    }),
    '/admin/budgets/drift/repair': {
      post: {
        operationId: 'budget_drift_repair', tags: ['admin'], security: ADMIN_SECURITY,
        summary: 'The drift check, and each drifted counter set to the ledger\'s sum (compare-and-set)',
        parameters: [query('all', '`true`: list every budget checked.', { type: 'boolean' })],
        responses: { '200': json('The check, with `repaired` budgets.', obj()), ...errors('openai', ADMIN_ERRORS) },
      },
    },
    '/admin/rerate': {
      post: {
        operationId: 'rerate', tags: ['admin'], security: ADMIN_SECURITY,
        summary: 'Re-price the rows of a period with the current price table (after a price correction); every change is kept in the adjustments log',
        requestBody: { required: true, content: { 'application/json': { schema: obj({
          from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, reason: { type: 'string' },
          customer: { type: 'string' }, model: { type: 'string' }, actor: { type: 'string' },
        }) } } },
        responses: { '200': json('What was re-rated (a repeat changes nothing).', obj({ rerate_id: { type: 'string' }, adjusted: { type: 'integer' } })), ...errors('openai', [400, 401, 413, 429, 503]) },
      },
    },
    '/admin/rerate/adjustments': admin('rerate_adjustments', 'The adjustments log: each re-rated row\'s old and new cost and billed, reason and actor', {
      parameters: [query('from', 'ISO time (of the adjusted rows).'), query('to', 'ISO time.'), query('customer', 'Only this customer.'), query('rerate_id', 'Only this re-rate.'), query('limit', 'At most this many entries.', { type: 'integer', minimum: 1 })],
    }),
    '/admin/cluster': admin('cluster', 'Redis lease state of this node (several nodes sharing budgets)'),
    '/admin/openapi.json': admin('openapi', 'This document', { ok: json('An OpenAPI 3.1 document.', obj({ openapi: { type: 'string' } })) }),

    '/metrics': {
      get: {
        operationId: 'metrics', tags: ['operations'], summary: 'Prometheus text for the whole process',
        description: 'Open unless `metrics.token` is set; then `Authorization: Bearer <metrics.token>`.',
        security: [{ metricsBearer: [] }, {}],
        responses: { '200': { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors('openai', [401, 404, 429, 503]) },
      },
    },
    '/healthz': {
      get: { operationId: 'healthz', tags: ['operations'], summary: 'Liveness', security: [], responses: { '200': json('Alive.', ref('Status')) } },
    },
    '/readyz': {
      get: {
        operationId: 'readyz', tags: ['operations'], summary: 'Readiness: 503 while draining or while the ledger cannot record', security: [],
        responses: { '200': json('ready', ref('Status')), '503': json('draining or ledger_unavailable', ref('Status')) },
      },
    },
    '/dashboard': {
      get: {
        operationId: 'dashboard', tags: ['operations'], summary: 'The web dashboard (it asks for the admin token and calls the admin API)', security: [],
        responses: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
  };
}
