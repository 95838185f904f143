import type { ErrorType } from '../http/errors.js';
import { BodyTimeout, BodyTooLarge } from '../http/read-body.js';
import { BadRequest, isMediaEndpoint, type EndpointId, type ParsedCall } from '../protocols/call.js';
import { parseJsonBody, readRequest } from '../protocols/read-request.js';
import { parseMediaCall } from '../protocols/media/media-call.js';
import type { ShardContext } from './shard-context.js';

// The start of a proxied call, before anything is reserved: who is calling,
// the body (bounded, strict UTF-8, JSON), the parsed call, and the
// idempotency key. Each step ends in a refusal value or the next step.

export interface IntakeRefusal {
  type: ErrorType;
  message: string;
  extra?: Record<string, unknown>;
  /** The rest of the body was not read: the connection cannot carry another request. */
  closeConnection?: boolean;
  headers?: Record<string, string>;
}

/**
 * The OpenAI and Anthropic SDKs retry a 409 (three requests over ~1.3 s)
 * unless told not to; a reused idempotency key answers the same every time.
 */
export const NO_RETRY = Object.freeze({ 'x-should-retry': 'false' });

/** The refusal for a body that broke its limits (too large, too slow); undefined for any other fault, which propagates. */
export function bodyRefusal(err: unknown): IntakeRefusal | undefined {
  if (err instanceof BodyTooLarge || err instanceof BodyTimeout) {
    return { type: err instanceof BodyTooLarge ? 'request_too_large' : 'request_timeout', message: err.message, closeConnection: true };
  }
  return undefined;
}

/** Parses the call from its whole body (synchronously: the caller awaits the body itself, one await fewer per call); faults other than a bad request propagate. */
export function readCall(endpoint: EndpointId, raw: Buffer, contentType = ''): { ok: true; call: ParsedCall } | { ok: false; refusal: IntakeRefusal } {
  try {
    // Audio uploads are multipart/form-data: not UTF-8, not JSON.
    if (isMediaEndpoint(endpoint)) return { ok: true, call: parseMediaCall(endpoint, raw, contentType, () => parseJsonBody(raw)) };
    return { ok: true, call: readRequest(endpoint, raw) };
  } catch (err) {
    if (err instanceof BadRequest) return { ok: false, refusal: { type: 'invalid_request_error', message: err.message } };
    throw err;
  }
}

/**
 * Claims the call's idempotency key: refused when a charged call already used
 * it (within the window) or one with it is still in flight. The caller
 * releases a claimed key when the call ends.
 */
export async function claimIdempotency(ctx: ShardContext, customer: string, key: string, now: number): Promise<IntakeRefusal | undefined> {
  if (key.length > 255) return { type: 'invalid_request_error', message: 'idempotency-key is longer than 255 characters' };
  // Claim (across every shard), then look in the ledger: the order that lets no
  // copy slip between the first one's commit and its release of the claim.
  const claim = ctx.claimIdempotencyKey(customer, key);
  if (claim === 'full') {
    return { type: 'overloaded_error', message: 'too many calls with an idempotency-key are in flight; retry shortly', headers: { 'retry-after': '1' } };
  }
  const prior = await ctx.ledger.findIdempotent(customer, key, now, ctx.config.idempotencyWindow);
  if (prior) {
    if (claim === 'claimed') ctx.releaseIdempotencyKey(customer, key);
    return { type: 'idempotency_key_reused', message: `idempotency-key "${key}" was already used by request ${prior.request_id}, which was charged; the call was not forwarded again`, extra: { original_request_id: prior.request_id }, headers: NO_RETRY };
  }
  if (claim === 'in_flight') return inFlight(key);
  return undefined;
}

const inFlight = (key: string): IntakeRefusal => ({ type: 'idempotency_key_reused', message: `a call with idempotency-key "${key}" is still in flight; retry after it finishes`, headers: NO_RETRY });

/**
 * Cluster mode, after the node's own claim: claims the key for every node
 * (src/cluster/idempotency-leases.ts). A refusal means the caller must drop
 * its node claim and answer it; undefined: the call runs, and its end is
 * reported with `ctx.clusterIdempotency.finish`.
 */
export async function claimClusterIdempotency(ctx: ShardContext, customer: string, key: string, requestId: string): Promise<IntakeRefusal | undefined> {
  const c = await ctx.clusterIdempotency!.claim(customer, key, requestId);
  if (c.outcome === 'claimed') return undefined;
  if (c.outcome === 'done') {
    return { type: 'idempotency_key_reused', message: `idempotency-key "${key}" was already used by request ${c.requestId}, which was charged; the call was not forwarded again`, extra: { original_request_id: c.requestId }, headers: NO_RETRY };
  }
  if (c.outcome === 'in_flight') return inFlight(key);
  // Redis unreachable: no node can tell whether another runs this key.
  if (ctx.config.cluster.redisDown === 'open') return undefined;
  return { type: 'idempotency_unavailable', message: `idempotency-key "${key}" cannot be checked against the other nodes while Redis is unreachable; nothing was forwarded, retry with the same key shortly`, headers: { 'retry-after': '1' } };
}
