import { storedContext } from './estimate/stored-context.js';
import { cacheWriteTtl, type CacheWriteTtl } from './estimate/cache-writes.js';
import type { MediaEndpoint, MediaRequest } from './media/media-call.js';
import { EstimateTooDeep, openaiTokenizer, promptEstimate, promptTokenBound } from './estimate/prompt-estimate.js';
import type { BodyLayout } from './body-layout.js';
import { splicedBody } from './splice-body.js';

// Protocol-neutral view of a model call: what the decision, routing and
// ledger need from a request body, and how to rewrite it for the upstream.

export type EndpointId = 'chat' | 'responses' | 'embeddings' | 'messages' | MediaEndpoint;
export type Protocol = 'openai' | 'anthropic';

export const ENDPOINTS: Record<EndpointId, { path: string; protocol: Protocol }> = {
  chat: { path: '/v1/chat/completions', protocol: 'openai' },
  responses: { path: '/v1/responses', protocol: 'openai' },
  embeddings: { path: '/v1/embeddings', protocol: 'openai' },
  messages: { path: '/v1/messages', protocol: 'anthropic' },
  // Billed per image, character or second: src/protocols/media/, src/proxy/unit-call.ts.
  images: { path: '/v1/images/generations', protocol: 'openai' },
  speech: { path: '/v1/audio/speech', protocol: 'openai' },
  transcriptions: { path: '/v1/audio/transcriptions', protocol: 'openai' },
  translations: { path: '/v1/audio/translations', protocol: 'openai' },
};

export const isMediaEndpoint = (e: EndpointId): e is MediaEndpoint => e === 'images' || e === 'speech' || e === 'transcriptions' || e === 'translations';

export interface ParsedCall {
  endpoint: EndpointId;
  protocol: Protocol;
  model: string;
  stream: boolean;
  /** Output cap the client asked for, if any. */
  maxOutputTokens: number | undefined;
  /** Upper bound of the prompt tokens the provider bills (src/protocols/estimate/), for the decision. */
  promptTokensEstimate: number;
  /** Answers generated per call (`n`, `best_of`): output is reserved per choice, the prompt once. */
  choices: number;
  /**
   * The bound for the model that will answer (a route target, a degrade model): the same
   * as promptTokensEstimate unless the body holds images, which models bill differently,
   * or the model's tokenizer is of the other kind (OpenAI's, verified, or not).
   */
  promptTokensFor(model: string): number;
  /** Client asked for the usage chunk in an OpenAI chat stream. */
  wantsStreamUsage: boolean;
  /**
   * Upper bound of a chat call's predicted output (`prediction`): the provider bills the tokens
   * of it that it rejects as completion tokens, beyond the output cap. 0 without one.
   */
  predictionTokens: number;
  /** The field by which the provider adds input the body does not hold (estimate/stored-context.ts), if any. */
  storedContext: string | undefined;
  /** The longest prompt-cache write the body asks for (`cache_control`): its prompt may be billed at that rate. */
  cacheWrite: CacheWriteTtl | undefined;
  body: Record<string, unknown>;
  /** Where the editable values lie in the client's bytes (read-request.ts): the upstream body is spliced from them. */
  layout?: BodyLayout;
  /** Set on the endpoints billed per image, character or second: what the call reserves and bills. */
  media?: MediaRequest;
  /** The upstream body when it is not JSON built from `body` (multipart uploads), for a physical model. */
  upstreamPayload?: (model: string) => { body: Buffer; contentType: string };
}

/** Normalised usage: promptTokens includes cached reads and cache writes (OpenAI semantics). */
export interface CallUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  /** Per-unit quantities, for the endpoints billed per image, second of audio or input character. */
  images?: number;
  seconds?: number;
  characters?: number;
}

export const zeroUsage = (): CallUsage => ({ promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 });

export class BadRequest extends Error {
  readonly code = 'TG_BAD_REQUEST';
}

/** Most choices one call may ask for (OpenAI's own limit for `n`); keeps output × choices far from overflow. */
export const MAX_CHOICES = 128;

/** The fields every path reads from the body's top level, validated (the 400s of a model call's body). */
export interface CallFields {
  model: string;
  stream: boolean;
  maxOutputTokens: number | undefined;
  choices: number;
}

/** The fields that ask for several answers per call. */
const CHOICE_FIELDS = ['n', 'best_of'] as const;

/**
 * Validates the top-level fields. `body` may be the parsed body or, on the
 * native path (read-request.ts), an object holding only these fields, with
 * values of the same JSON kind: the checks read nothing else.
 */
export function callFields(endpoint: EndpointId, body: Record<string, unknown>): CallFields {
  const model = body.model;
  if (typeof model !== 'string' || !model) throw new BadRequest('"model" is required and must be a non-empty string');
  if (model.length > 256) throw new BadRequest('"model" is longer than 256 characters');
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') throw new BadRequest('"stream" must be a boolean');
  if (endpoint === 'embeddings' && stream) throw new BadRequest('embeddings cannot be streamed');
  // The upstream body is spliced into it (splice-body.ts); the providers take nothing else.
  const so = body.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw new BadRequest('"stream_options" must be an object');

  // Chat takes two caps; which one a provider (or a compatible server) obeys when both differ is
  // not ours to know, so the larger is reserved and a clamp lowers both (upstreamBody).
  let maxOutputTokens: number | undefined;
  const caps = outputCapFields(endpoint);
  for (let i = 0; i < caps.length; i++) {
    const maxField = caps[i]!;
    const max = body[maxField];
    if (max === undefined || max === null) continue;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10_000_000) {
      throw new BadRequest(`"${maxField}" must be a positive integer`);
    }
    maxOutputTokens = Math.max(maxOutputTokens ?? 0, max);
  }

  if (endpoint === 'chat' && !Array.isArray(body.messages)) throw new BadRequest('"messages" is required and must be an array');
  if (endpoint === 'messages') {
    if (!Array.isArray(body.messages)) throw new BadRequest('"messages" is required and must be an array');
    if (maxOutputTokens === undefined) throw new BadRequest('"max_tokens" is required');
  }
  if ((endpoint === 'embeddings' || endpoint === 'responses') && body.input === undefined && endpoint === 'embeddings') {
    throw new BadRequest('"input" is required');
  }

  let choices = 1;
  for (let i = 0; i < CHOICE_FIELDS.length; i++) {
    const field = CHOICE_FIELDS[i]!;
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CHOICES) {
      throw new BadRequest(`"${field}" must be an integer from 1 to ${MAX_CHOICES}`);
    }
    if (v > choices) choices = v;
  }
  return { model, stream, maxOutputTokens, choices };
}

export function parseCall(endpoint: EndpointId, json: unknown): ParsedCall {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BadRequest('request body must be a JSON object');
  const body = json as Record<string, unknown>;
  const { model, stream, maxOutputTokens, choices } = callFields(endpoint, body);

  let estimate: { tokens: number; modelDependent: boolean };
  try {
    estimate = promptEstimate(model, body);
  } catch (err) {
    if (err instanceof EstimateTooDeep) throw new BadRequest(err.message);
    throw err;
  }
  const promptTokensEstimate = estimate.tokens;
  // Another model changes the bound when the body holds images, or when its tokenizer is of the other kind.
  const promptTokensFor = (m: string) =>
    m !== model && (estimate.modelDependent || openaiTokenizer(m) !== openaiTokenizer(model)) ? promptTokenBound(m, body) : promptTokensEstimate;

  const so = body.stream_options as { include_usage?: unknown } | undefined;
  return {
    endpoint,
    protocol: ENDPOINTS[endpoint].protocol,
    model,
    stream,
    maxOutputTokens,
    promptTokensEstimate,
    choices,
    promptTokensFor,
    wantsStreamUsage: !!(so && typeof so === 'object' && so.include_usage === true),
    storedContext: storedContext(body),
    cacheWrite: cacheWriteTtl(body),
    predictionTokens: body.prediction != null && typeof body.prediction === 'object' ? promptTokenBound(model, { prediction: body.prediction }) : 0,
    body,
  };
}

// Read on every call: one frozen list each, not an array (and its iterator) per call.
const CAPS_RESPONSES: readonly string[] = Object.freeze(['max_output_tokens']);
const CAPS_CHAT: readonly string[] = Object.freeze(['max_tokens', 'max_completion_tokens']);
const CAPS_OTHER: readonly string[] = Object.freeze(['max_tokens']);

/** The body fields that cap a call's output, the one written when the client sent none first. */
export function outputCapFields(endpoint: EndpointId): readonly string[] {
  if (endpoint === 'responses') return CAPS_RESPONSES;
  if (endpoint === 'chat') return CAPS_CHAT;
  return CAPS_OTHER;
}

/** The body sent upstream: the physical model, the output cap, and usage reporting for streams. */
export function upstreamBody(call: ParsedCall, model: string, maxOutputTokens: number | undefined): string | Buffer {
  if (call.layout) return splicedBody(call, call.layout, model, maxOutputTokens);
  const b: Record<string, unknown> = { ...call.body, model };
  if (maxOutputTokens !== undefined && maxOutputTokens !== call.maxOutputTokens) {
    const fields = outputCapFields(call.endpoint);
    const present = fields.filter((f) => call.body[f] !== undefined && call.body[f] !== null);
    // Every cap the client sent is lowered (else the other one could still run to its own value).
    for (const f of present.length ? present : [fields[0]!]) b[f] = maxOutputTokens;
  }
  if (call.endpoint === 'chat' && call.stream) {
    const so = (call.body.stream_options && typeof call.body.stream_options === 'object') ? call.body.stream_options : {};
    b.stream_options = { ...so, include_usage: true };
  }
  return JSON.stringify(b);
}
