import { ADMIN_SECURITY, errors, json, pathParam, type PathItem } from './openapi-paths.js';

// The prepaid wallet routes of GET /admin/openapi.json (src/wallet/wallet-api.ts).

const obj = (properties: Record<string, unknown> = {}, required?: string[]) => ({ type: 'object', additionalProperties: true, properties, ...(required ? { required } : {}) });
const money = obj({ amount: { type: 'number' }, currency: { type: 'string' } });
const CREDIT = {
  amount: { type: 'number', exclusiveMinimum: 0, description: 'The credit, in `currency`.' },
  currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'Default: the wallet\'s currency; another one is converted with exchangeRates.' },
  idempotency_key: { type: 'string', minLength: 1, maxLength: 200, description: 'A repeat with the same key credits once and answers the same transaction_id.' },
  reference: { type: 'string', maxLength: 500, description: 'An order or payment id, kept on the transaction.' },
};
const credited = json('Credited (or a repeat of a credited key: repeated: true).', obj({ transaction_id: { type: 'string' }, balance: money, repeated: { type: 'boolean' } }));

const transaction = obj({ transaction_id: { type: 'string' }, ts: { type: 'string', format: 'date-time' }, type: { type: 'string', enum: ['credit', 'debit', 'adjustment', 'refund'] }, amount: { type: 'number' }, currency: { type: 'string' }, reference: { type: ['string', 'null'] } });
const wallet = json('The wallet.', obj({ customer: { type: 'string' }, key_id: { type: 'string', description: 'A key\'s own wallet.' }, balance: money, credited: money, charged: money, reserved: money, transactions: { type: 'array', items: transaction } }));
const KEY_ID = pathParam('key_id', 'The key id (key_...): the key\'s own wallet (issued with `wallet`).');

export function walletPaths(): Record<string, PathItem> {
  const creditOp = (operationId: string, summary: string, parameters: unknown[]) => ({
    post: {
      operationId, tags: ['admin'], security: ADMIN_SECURITY, summary, parameters,
      requestBody: { required: true, content: { 'application/json': { schema: obj(CREDIT, ['amount', 'idempotency_key']) } } },
      responses: { '200': credited, ...errors('openai', [400, 401, 403, 404, 409, 413, 429, 503]) },
    },
  });
  const viewOp = (operationId: string, summary: string, parameters: unknown[]) => ({
    get: { operationId, tags: ['admin'], security: ADMIN_SECURITY, summary, parameters, responses: { '200': wallet, ...errors('openai', [400, 401, 404, 409, 429, 503]) } },
  });
  const id = pathParam('id', 'The customer id.');
  return {
    '/admin/customers/{id}/credits': creditOp('credit_wallet', 'Top up a customer\'s prepaid wallet (idempotent per idempotency_key)', [id]),
    '/admin/customers/{id}/wallet': viewOp('get_wallet', 'A wallet\'s balance and transactions (credits, and debits summarised per day from the ledger)', [id]),
    '/admin/customers/{id}/keys/{key_id}/credits': creditOp('credit_key_wallet', 'Top up an issued key\'s own prepaid wallet (idempotent per idempotency_key)', [id, KEY_ID]),
    '/admin/customers/{id}/keys/{key_id}/wallet': viewOp('get_key_wallet', 'A key\'s own wallet: balance and transactions (debits summarised per day from the key\'s rows)', [id, KEY_ID]),
    '/v1/wallet/credits': {
      post: {
        operationId: 'signed_wallet_credit', tags: ['admin'], security: [],
        summary: 'A payment provider\'s top-up notification, signed with wallet.webhookSecret',
        description: 'Header `x-tollgate-signature: sha256=<hex HMAC-SHA256 of the raw body with wallet.webhookSecret>`; a missing or wrong signature gets 401 and credits nothing.',
        parameters: [{ name: 'x-tollgate-signature', in: 'header', required: true, description: 'sha256=<hex HMAC-SHA256 of the raw body>.', schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: obj({ customer: { type: 'string' }, key_id: { type: 'string', description: 'Credit this key\'s own wallet instead of the customer\'s.' }, ...CREDIT }, ['customer', 'amount', 'idempotency_key']) } } },
        responses: { '200': credited, ...errors('openai', [400, 401, 404, 409, 413, 503]) },
      },
    },
  };
}
