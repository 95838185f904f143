import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { errorStatus, type ErrorType } from '../http/errors.js';
import type { Exchange } from '../http/exchange.js';
import { BodyTimeout, BodyTooLarge, readBody } from '../http/read-body.js';
import { checkRequestHead } from '../http/request-limits.js';
import { InvalidUtf8, utf8Text } from '../http/utf8-body.js';
import type { ShardContext } from './shard-context.js';
import { redactSecrets } from './redact-secrets.js';
import { describeError, upstreamHeaders } from './upstream-request.js';
import { readIdentityHeaders } from '../identity/header-values.js';

// POST /v1/messages/count_tokens (anthropic `messages.countTokens`): the
// caller is identified as for a call, the model resolved through its route,
// and the request forwarded to the route's first Anthropic target with the
// model renamed. Anthropic does not charge for counting, so neither does
// Tollgate: no reservation, no budget check, no usage row (the call is in
// the metrics and the log as endpoint "count_tokens"). A route with no
// Anthropic target answers 400: OpenAI has no token-counting endpoint.

export interface CountTokensDeps {
  ctx: ShardContext;
  exchange: (res: HttpResponse) => Exchange;
}

const PATH = '/v1/messages/count_tokens';

export function mountCountTokens(app: TemplatedApp, { ctx, exchange }: CountTokensDeps): void {
  app.post(PATH, (res, req) => {
    const ex = exchange(res);
    const fail = (type: ErrorType, message: string) => {
      ctx.metrics.count('count_tokens', errorStatus(type), 'refused');
      ex.fail('anthropic', type, message);
    };
    const breach = checkRequestHead(req, ctx.config.limits);
    if (breach) {
      ex.closeConnection = true;
      return fail(breach.type, breach.message);
    }
    // No session: a count is not a call of one (nothing is reserved or recorded).
    const who = ctx.keys.identify({ ...readIdentityHeaders(req), session: '' });
    const client = { anthropicVersion: req.getHeader('anthropic-version'), anthropicBeta: req.getHeader('anthropic-beta'), accept: 'application/json' };
    const body = readBody(res, ctx.config.limits.maxBodyBytes, Number(req.getHeader('content-length') || 0), ctx.config.limits.bodyTimeout);
    body.catch(() => {});
    if (!who.ok) return fail(who.type, who.message);
    void (async () => {
      let parsed: Record<string, unknown>;
      try {
        const json: unknown = JSON.parse(utf8Text(await body));
        if (!json || typeof json !== 'object' || Array.isArray(json)) return fail('invalid_request_error', 'request body must be a JSON object');
        parsed = json as Record<string, unknown>;
      } catch (err) {
        if (err instanceof BodyTooLarge) return fail('request_too_large', err.message);
        if (err instanceof BodyTimeout) return fail('request_timeout', err.message);
        if (err instanceof InvalidUtf8) return fail('invalid_request_error', err.message);
        return fail('invalid_request_error', 'request body is not valid JSON');
      }
      if (ex.aborted) return;
      if (typeof parsed.model !== 'string' || !parsed.model) return fail('invalid_request_error', 'model: a non-empty string is required');
      const plan = ctx.routes.plan(parsed.model, 'messages', Date.now());
      if (!plan.ok) return fail(plan.status === 404 ? 'not_found_error' : 'invalid_request_error', plan.message);
      const target = [...plan.targets, ...plan.skipped.map((s) => s.target)].find((t) => t.provider.type === 'anthropic');
      if (!target) return fail('invalid_request_error', `model "${parsed.model}" is not served by an Anthropic provider here, and only Anthropic counts tokens`);
      const out = Buffer.from(JSON.stringify({ ...parsed, model: target.model }));
      const { pool, basePath } = ctx.pools.get(target.provider);
      try {
        const r = await pool.request({ method: 'POST', path: basePath + PATH, headers: upstreamHeaders(target.provider, client, out.length), body: out });
        // An upstream error may quote Tollgate's own provider key back.
        const text = redactSecrets(await r.body.text(), target.provider.apiKey ? [target.provider.apiKey] : []);
        if (r.statusCode === 401 || r.statusCode === 403) {
          // The provider refused Tollgate's own key: the operator's problem, not the client's key.
          ctx.log('error', 'count_tokens: the provider refused the configured API key', { provider: target.provider.name, status: r.statusCode });
          return fail('upstream_error', `the provider refused the proxy's credentials (HTTP ${r.statusCode})`);
        }
        ctx.metrics.count('count_tokens', r.statusCode, 'free');
        ex.send(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json') }, text);
      } catch (err) {
        ctx.log('warn', 'count_tokens upstream failed', { provider: target.provider.name, error: describeError(err) });
        fail('upstream_error', `the provider could not be reached: ${describeError(err)}`);
      }
    })().catch((err) => fail('internal_error', `internal error in the proxy: ${(err as Error).message}`));
  });
}
