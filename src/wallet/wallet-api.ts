import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Guard } from '../admin/admin-guard.js';
import type { Config } from '../config/schema.js';
import type { Exchange } from '../http/exchange.js';
import { BodyTooLarge, BodyTimeout, readBody } from '../http/read-body.js';
import { decodeParam } from '../http/url-param.js';
import { SIGNATURE_HEADER, verifySignature } from '../alerts/signature.js';
import { parseCreditRequest, type CreditRequest } from './credit-request.js';
import type { CreditOutcome, WalletFailure, WalletView } from './wallet-book.js';
import type { WalletOwner } from '../store/wallet-transactions.js';

// The wallet routes (docs/interface.md, "Prepaid wallets"), on every shard;
// the supervisor does the work (wallet-book.ts), so a top-up is one write
// however many shards its copies reach.
//
//   POST /admin/customers/:id/credits                admin token
//   GET  /admin/customers/:id/wallet                 admin token
//   POST /admin/customers/:id/keys/:key_id/credits   admin token: an issued key's own wallet
//   GET  /admin/customers/:id/keys/:key_id/wallet    admin token
//   POST /v1/wallet/credits                          signed by a payment provider with wallet.webhookSecret

/** Who a signed top-up is recorded as (transactions and the audit log). */
export const WEBHOOK_ACTOR = 'webhook';

export interface WalletApiDeps {
  config: Config;
  guard: Guard;
  exchange: (res: HttpResponse) => Exchange;
  /** `actor`: the admin token's name (audit), or `webhook` for a signed top-up. */
  credit: (request: CreditRequest, actor: string) => Promise<CreditOutcome | WalletFailure>;
  view: (owner: WalletOwner) => Promise<WalletView | WalletFailure>;
}

export function mountWallets(app: TemplatedApp, deps: WalletApiDeps): void {
  const { config, guard } = deps;
  const limit = config.wallet.maxBodyBytes;

  // A customer's wallet (params: id), or one of its keys' own (params: id, key_id).
  const credit = (keyed: boolean) => (res: HttpResponse, req: HttpRequest) => {
    const ex = guard(res, req);
    if (!ex) return;
    const owner = ownerFrom(req, keyed);
    const body = readBody(res, limit, Number(req.getHeader('content-length') || 0), config.limits.bodyTimeout);
    body.catch(() => {});
    if (typeof owner === 'string') return void ex.fail('openai', 'invalid_request_error', owner);
    void body.then(
      (raw) => creditFrom(ex, deps, raw, owner, ex.actor),
      (err) => bodyFailed(ex, err, limit),
    );
  };
  const view = (keyed: boolean) => (res: HttpResponse, req: HttpRequest) => {
    const ex = guard(res, req);
    if (!ex) return;
    const owner = ownerFrom(req, keyed);
    if (typeof owner === 'string') return void ex.fail('openai', 'invalid_request_error', owner);
    answer(ex, deps.view(owner));
  };
  app.post('/admin/customers/:id/credits', credit(false));
  app.get('/admin/customers/:id/wallet', view(false));
  app.post('/admin/customers/:id/keys/:key_id/credits', credit(true));
  app.get('/admin/customers/:id/keys/:key_id/wallet', view(true));

  app.post('/v1/wallet/credits', (res, req) => {
    const ex = deps.exchange(res);
    const signature = req.getHeader(SIGNATURE_HEADER);
    const body = readBody(res, limit, Number(req.getHeader('content-length') || 0), config.limits.bodyTimeout);
    body.catch(() => {});
    void body.then(
      (raw) => {
        // Checked on the raw bytes, before anything in the body is read: an unsigned body credits nothing.
        const secret = config.wallet.webhookSecret;
        if (!secret || !verifySignature(secret, raw, signature)) {
          return ex.fail('openai', 'authentication_error', secret
            ? `${SIGNATURE_HEADER}: missing or wrong; send sha256=<hex HMAC-SHA256 of the raw body with wallet.webhookSecret>`
            : 'signed top-ups are disabled: set wallet.webhookSecret in the config');
        }
        creditFrom(ex, deps, raw, undefined, WEBHOOK_ACTOR);
      },
      (err) => bodyFailed(ex, err, limit),
    );
  });
}

/** The wallet a route names, or what is wrong with its path. */
function ownerFrom(req: HttpRequest, keyed: boolean): WalletOwner | string {
  const customer = decodeParam(req.getParameter(0));
  if (customer === null) return 'customer id: malformed percent-encoding';
  if (!keyed) return { customer };
  const keyId = decodeParam(req.getParameter(1));
  if (keyId === null) return 'key id: malformed percent-encoding';
  return { customer, key_id: keyId };
}

function creditFrom(ex: Exchange, deps: WalletApiDeps, raw: Buffer, owner: WalletOwner | undefined, actor: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return ex.fail('openai', 'invalid_request_error', 'body: not JSON');
  }
  // A payment provider only ever adds credit; refunds and adjustments are the operator's.
  const request = parseCreditRequest(parsed, owner?.customer, actor === WEBHOOK_ACTOR ? ['credit'] : undefined, owner?.key_id);
  if (typeof request === 'string') return ex.fail('openai', 'invalid_request_error', request);
  answer(ex, deps.credit(request, actor));
}

function answer(ex: Exchange, outcome: Promise<CreditOutcome | WalletView | WalletFailure>): void {
  outcome.then(
    (o) => {
      if (ex.aborted) return;
      if (!o.ok) return ex.fail('openai', o.type, o.message);
      const { ok: _ok, ...body } = o;
      ex.json(200, 'repeated' in body ? { transaction_id: body.transaction_id, balance: body.balance, repeated: body.repeated } : body);
    },
    (err) => ex.aborted || ex.fail('openai', 'overloaded_error', `wallet unavailable: ${(err as Error).message}; nothing was credited unless a repeat with the same idempotency_key says so`),
  );
}

function bodyFailed(ex: Exchange, err: unknown, limit: number): void {
  if (err instanceof BodyTooLarge) return ex.fail('openai', 'request_too_large', `request body is larger than the ${limit}-byte limit (wallet.maxBodyBytes)`);
  if (err instanceof BodyTimeout) return ex.fail('openai', 'request_timeout', 'the body did not arrive in time');
  ex.fail('openai', 'invalid_request_error', `body: ${(err as Error).message}`);
}
