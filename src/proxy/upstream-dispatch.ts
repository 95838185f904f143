import type { EndpointId } from '../protocols/call.js';
import type { Target } from '../routing/route-table.js';
import { priceOf } from './call-pricing.js';
import type { ShardContext } from './shard-context.js';
import type { AttemptDeps } from './upstream-attempts.js';
import { UpstreamExchange } from './upstream-exchange.js';
import { dispatchHeaders, upstreamPath, type ClientProtocolHeaders } from './upstream-request.js';

const elapsed = () => performance.now();

/** One per shard: the same for every call (the client's headers come with each dispatch), so no closures are made per call. */
const made = new WeakMap<ShardContext, AttemptDeps>();

/** The real side of the fallback loop: the shard's undici pools, its breakers, the system clocks. */
export function upstreamDeps(ctx: ShardContext): AttemptDeps {
  let deps = made.get(ctx);
  if (!deps) made.set(ctx, (deps = shardDeps(ctx)));
  return deps;
}

function shardDeps(ctx: ShardContext): AttemptDeps {
  return {
    health: ctx.routes.health,
    now: Date.now,
    elapsed,
    defaultMaxTokens: (t: Target) => priceOf(ctx.prices, t.model, t.provider.type, undefined, t.priceAs)?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens,
    dispatch: (target: Target, endpoint: EndpointId, body: Buffer, contentType: string | undefined, client: ClientProtocolHeaders) => {
      const { pool, basePath } = ctx.pools.get(target.provider);
      const up = new UpstreamExchange(ctx.config.limits.maxUpstreamBodyBytes);
      // A Buffer body: undici would encode a string itself, and count its length twice. Its length is the content-length undici sends.
      pool.dispatch({
        path: upstreamPath(target.provider, basePath, endpoint),
        method: 'POST',
        headers: dispatchHeaders(target.provider, client, contentType),
        body,
        headersTimeout: target.timeouts.firstByte,
        bodyTimeout: target.timeouts.firstByte,
      }, up);
      return up;
    },
  };
}
