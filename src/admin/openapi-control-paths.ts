import { customerBody, customerPatch, keyBody, planBody, resetBody } from '../control/control-ops.js';
import { ADMIN_SECURITY, errors, json, pathParam, query, type Operation, type PathItem } from './openapi-paths.js';
import { fromZod, type JsonSchema } from './openapi-schemas.js';

// Control-plane routes of GET /admin/openapi.json (src/control/control-api.ts):
// runtime customers, keys, plans, spend resets, the audit log. Bodies come
// from the zod schemas that validate them. Merged with the other admin path
// items (GET /admin/customers and /admin/customers/{id} live there).

const obj = (properties: Record<string, unknown> = {}) => ({ type: 'object', additionalProperties: true, properties });
const WRITE_ERRORS = [400, 401, 403, 404, 409, 413, 429, 503, 507];
const ID = pathParam('id', 'The customer id.');
const PAGE = [query('limit', '1-1000, default 100.', { type: 'integer', minimum: 1, maximum: 1000 }), query('cursor', 'next_cursor of the previous page.')];

const op = (operationId: string, summary: string, o: { body?: JsonSchema; parameters?: unknown[]; ok: [string, string, JsonSchema]; read?: boolean }): Operation => ({
  operationId, summary, tags: ['admin'], security: ADMIN_SECURITY,
  ...(o.parameters ? { parameters: o.parameters } : {}),
  ...(o.body ? { requestBody: { required: true, content: { 'application/json': { schema: o.body } } } } : {}),
  responses: { [o.ok[0]]: json(o.ok[1], o.ok[2]), ...errors('openai', o.read ? [400, 401, 404, 429, 503] : WRITE_ERRORS) },
});

const KEY = obj({ key_id: { type: 'string' }, name: { type: ['string', 'null'] }, created_at: { type: 'string', format: 'date-time' }, expires_at: { type: ['string', 'null'], format: 'date-time' }, last_used_at: { type: ['string', 'null'], format: 'date-time' } });

export function controlPaths(): Record<string, PathItem> {
  return {
    '/admin/customers': {
      post: op('create_customer', 'Create a customer (the config file\'s customer shape, keys issued separately)', { body: fromZod(customerBody), ok: ['201', 'The customer.', obj({ id: { type: 'string' } })] }),
    },
    '/admin/customers/{id}': {
      patch: op('update_customer', 'Change a runtime customer (any field, plus disabled); spend this period is kept', { parameters: [ID], body: fromZod(customerPatch), ok: ['200', 'The customer.', obj()] }),
      delete: op('delete_customer', 'Delete a runtime customer: its keys answer 401, its usage rows stay', { parameters: [ID], ok: ['200', 'Deleted.', obj({ deleted: { const: true }, keys_revoked: { type: 'integer' } })] }),
    },
    '/admin/customers/{id}/keys': {
      post: op('issue_key', 'Issue a key (shown only in this answer; stored as a hash)', { parameters: [ID], body: fromZod(keyBody), ok: ['201', 'The key.', obj({ key: { type: 'string', pattern: '^tgk_live_' }, key_id: { type: 'string' } })] }),
      get: op('list_keys', 'The customer\'s issued keys, without the secret', { parameters: [ID, ...PAGE], read: true, ok: ['200', 'A page of keys.', obj({ keys: { type: 'array', items: KEY }, next_cursor: { type: ['string', 'null'] } })] }),
    },
    '/admin/customers/{id}/keys/{key_id}': {
      delete: op('revoke_key', 'Revoke a key: 401 on every shard before this answers, on every node within 1 s', { parameters: [ID, pathParam('key_id', 'The key id.')], ok: ['200', 'Revoked.', obj({ revoked: { const: true } })] }),
    },
    '/admin/customers/{id}/budgets/reset': {
      post: op('reset_spend', 'Audited reset: the customer\'s own budgets start this period again from 0', { parameters: [ID], body: fromZod(resetBody), ok: ['200', 'Reset.', obj({ reset: { type: 'array', items: obj() } })] }),
    },
    '/admin/plans': {
      get: op('list_plans', 'Every plan (configured and runtime)', { read: true, ok: ['200', 'The plans.', obj({ plans: { type: 'array', items: obj({ name: { type: 'string' }, configured: { type: 'boolean' } }) } })] }),
    },
    '/admin/plans/{name}': {
      put: op('put_plan', 'Create or replace a runtime plan; applies to every customer on it at once, spend kept', { parameters: [pathParam('name', 'The plan name.')], body: fromZod(planBody), ok: ['200', 'The plan (201 when created).', obj({ name: { type: 'string' } })] }),
    },
    '/admin/audit': {
      get: op('audit', 'Every admin write, oldest first: ts, actor, action, target, before, after', {
        parameters: [query('from', 'ISO time.'), query('to', 'ISO time (exclusive).'), ...PAGE], read: true,
        ok: ['200', 'A page of entries.', obj({ entries: { type: 'array', items: obj({ ts: { type: 'string', format: 'date-time' }, actor: { type: 'string' }, action: { type: 'string' }, target: { type: 'string' } }) }, next_cursor: { type: ['string', 'null'] } })],
      }),
    },
    '/admin/control': {
      get: op('control_state', 'The control-plane state as the answering shard holds it (version, counts)', { read: true, ok: ['200', 'State.', obj({ version: { type: 'integer' }, shard: { type: 'integer' }, customers: { type: 'integer' }, keys: { type: 'integer' } })] }),
    },
  };
}

/** Path items of several sources, methods of the same path side by side. */
export function mergePaths(...sources: Record<string, PathItem>[]): Record<string, PathItem> {
  const out: Record<string, PathItem> = {};
  for (const s of sources) for (const [path, item] of Object.entries(s)) out[path] = { ...out[path], ...item };
  return out;
}
