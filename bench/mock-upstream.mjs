#!/usr/bin/env node
// Tollgate mock LLM upstream: a fast, deterministic fake of the OpenAI and
// Anthropic HTTP APIs, used by tests, benchmarks and the demo.
//
// Built on uWebSockets.js so that it is never the bottleneck of a benchmark.
// Plain JavaScript ESM, no build step.
//
// ---------------------------------------------------------------------------
// Programmatic API
//
//   import { startMockUpstream } from './bench/mock-upstream.mjs';
//   const mock = await startMockUpstream({ port: 0, latencyMs: 0, ... });
//   mock.url            // 'http://127.0.0.1:PORT'
//   mock.port           // PORT (the real one when port 0 was asked for)
//   mock.stats()        // snapshot, see "Stats" below
//   mock.reset()        // clear stats AND restore the behaviour given at start
//   mock.reset({ keepBehavior: true })   // clear stats only
//   mock.setBehavior({ fail: '429', retryAfter: 2 })  // shallow merge
//   mock.behavior()     // current behaviour (frozen object)
//   await mock.close()
//
// Options (all optional; everything except `port` is "behaviour" and can be
// changed at run time with setBehavior() or POST /__mock/behavior):
//   port              0 = random free port (default 0)
//   latencyMs         delay before answering / before the first byte (0)
//   chunkDelayMs      delay between two streamed frames (0), see "Streaming"
//   completionTokens  words in the answer: "tok0 tok1 ... tok{N-1}" (16),
//                     capped by the request's max_tokens /
//                     max_completion_tokens / max_output_tokens (smallest wins)
//   promptTokens      null = computed (see below), else this fixed number;
//                     'tokenizer' = counted like a provider would (tiktoken,
//                     message overheads, media rules): bench/mock-prompt-tokens.mjs
//   cachedTokens      OpenAI prompt_tokens_details.cached_tokens /
//                     Responses input_tokens_details.cached_tokens /
//                     Anthropic cache_read_input_tokens (0)
//   cacheWriteTokens  Anthropic cache_creation_input_tokens (0)
//   fail              null | '500' | '503' | '429' | 'reset' | 'timeout' |
//                     'malformed-sse' | 'cut-stream'   (null)
//   failCount         null = fail every request; N = fail only the next N API
//                     requests, then succeed. The counter is re-armed every time
//                     `fail` or `failCount` is set. (null)
//   retryAfter        seconds, sent as `retry-after` header on 429 (null = none)
//   omitUsage         never report usage (false)
//   requireKey        null, or a key that must be presented, else 401:
//                     `Authorization: Bearer KEY` on OpenAI paths,
//                     `x-api-key: KEY` on /v1/messages* (null)
//   toolCall          when the request has a non-empty `tools` array (and
//                     tool_choice is not 'none'), answer with exactly one call
//                     to the first tool with arguments {"x":1} (true)
//   usageOverride     null, or an object merged over the usage object of
//                     OpenAI chat answers (JSON and the stream's usage
//                     chunk), e.g. { prompt_tokens: -5 } or
//                     { completion_tokens: "100" }: a provider reporting
//                     impossible or malformed numbers (null)
//   omitTerminal      OpenAI chat streams end cleanly without `data: [DONE]`
//                     (false)
//   answerModel       null = answers name the request's model; else this
//                     string is the `model` every answer names (an upstream
//                     that answers with, or claims, another model) (null)
//   audioSeconds      null = transcriptions report a WAV upload's own length
//                     (else 1 s); a number = report this duration (null)
//
// Per-request overrides (headers): `x-mock-fail: <mode>` applies a failure
// mode to that request only (does not consume failCount);
// `x-mock-retry-after: <seconds>` sets the retry-after of that request.
//
// ---------------------------------------------------------------------------
// Token accounting (deterministic; tests rely on it)
//
//   P (prompt tokens) = promptTokens if set, else ceil(C / 4) where C is the
//   number of UTF-16 code units (JavaScript string .length) of the request's
//   text, collected from:
//     /v1/chat/completions   body.messages
//     /v1/responses          body.instructions + body.input
//     /v1/messages           body.system + body.messages
//     /v1/messages/count_tokens  same as /v1/messages
//     /v1/embeddings         body.input
//   by walking the value: a string counts its length; an array counts the sum
//   of its elements; an object counts its `text` field (if a string), its
//   `content` field (recursively) and its `output` field (if a string); a
//   number (pre-tokenized embedding input) counts 4 (= one token); anything
//   else (roles, names, tool definitions, tool-call arguments, images, ...)
//   counts 0.
//   e.g. messages [{role:'user', content:'Hello world'}] -> C=11 -> P=3.
//
//   N (completion tokens) = min(completionTokens, max_tokens,
//   max_completion_tokens, max_output_tokens) over the caps present.
//   If a cap made N < completionTokens the answer is "truncated":
//   chat finish_reason 'length', Anthropic stop_reason 'max_tokens',
//   Responses status 'incomplete' (incomplete_details.reason
//   'max_output_tokens', stream ends with `response.incomplete`), as the real
//   APIs do. A tool-call answer reports N completion tokens too.
//
//   OpenAI chat:   prompt_tokens = P, completion_tokens = N × n (the request's
//                  `n`, 1..128: one choice is sent, all are billed), total = P + N×n,
//                  prompt_tokens_details.cached_tokens = cachedTokens
//   Responses:     input_tokens = P, output_tokens = N, total = P + N,
//                  input_tokens_details.cached_tokens = cachedTokens
//   Anthropic:     input_tokens = max(0, P - cachedTokens - cacheWriteTokens)
//                  cache_read_input_tokens = cachedTokens,
//                  cache_creation_input_tokens = cacheWriteTokens,
//                  output_tokens = N   (message_start reports output_tokens 1)
//   Embeddings:    prompt_tokens = total_tokens = P
//   cachedTokens / cacheWriteTokens are reported verbatim; keep them <= P for
//   realistic numbers. With omitUsage the `usage` key is left out (Responses:
//   `usage: null`). NB: the Anthropic SDK's messages.stream() helper needs
//   usage; use messages.create({stream:true}) with omitUsage.
//
// ---------------------------------------------------------------------------
// Streaming: the stream is cut in "frames", one per completion word (the
// opening events are sent together with the first word, the closing events
// together with the last word; a tool call is 3 frames). chunkDelayMs is
// waited between two frames, so time-to-first-token = latencyMs and the whole
// stream takes latencyMs + (frames - 1) * chunkDelayMs. Backpressure is
// honoured: no frame is written while uWS still buffers the previous one.
//
// Failure modes:
//   '500' | '503' | '429'  error status with the protocol's error body
//   'reset'          close the connection without any answer (after latencyMs)
//   'timeout'        never answer (until the client goes away or close())
//   'malformed-sse'  streams: a syntactically broken event is inserted after
//                    the first frame, the rest of the stream follows normally;
//                    non-stream: 200 with a truncated JSON body
//   'cut-stream'     streams: the first half of the frames (floor(F/2); for a
//                    single-frame stream the first half of its bytes) then the
//                    connection is closed, without the terminal event;
//                    non-stream: 200, half of the JSON body, then close.
//
// Endpoints: POST /v1/chat/completions, POST /v1/responses,
// POST /v1/embeddings, GET /v1/models, GET /v1/models/:id,
// POST /v1/messages, POST /v1/messages/count_tokens; anything else -> 404 JSON.
// Images and audio: POST /v1/images/generations (n images; gpt-image-* models
// report usage: the prompt's tokens in, 1056 tokens out per image), POST
// /v1/audio/speech (audio/mpeg bytes, 64 + input length), POST
// /v1/audio/transcriptions and /translations (multipart; {text} with
// usage {type:'duration', seconds} (gpt-4o-*: tokens, 10 a second), or
// verbose_json {duration, text}; the duration is behaviour `audioSeconds`,
// else a WAV upload's own length, else 1 s).
// Control (not counted in stats, no latency/failures): GET /__mock/stats,
// GET|POST /__mock/behavior (POST body = JSON patch, merged), POST
// /__mock/reset (?keep-behavior=1 to clear stats only).
//
// Stats: { requests, byPath:{path:n}, byModel:{model:n}, lastHeaders:{...},
//   lastBody, inFlight, aborted, failures }  (`aborted` counts requests whose
//   client went away before the mock completed them; connections the mock
//   closes on purpose — reset/cut-stream/close() — are not counted;
//   `failures` counts injected failures).
//
// CLI: node bench/mock-upstream.mjs [--port 9100] [--latency 0]
//   [--chunk-delay 0] [--completion-tokens 16] [--prompt-tokens N]
//   [--cached-tokens N] [--cache-write-tokens N] [--fail MODE]
//   [--fail-count N] [--retry-after S] [--omit-usage] [--require-key KEY]
//   [--no-tool-call]
// ---------------------------------------------------------------------------

import uWS from 'uWebSockets.js';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { tokenizerPromptTokens } from './mock-prompt-tokens.mjs';

const HOST = '127.0.0.1';
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
export const FAIL_MODES = Object.freeze(['500', '503', '429', 'reset', 'timeout', 'malformed-sse', 'cut-stream']);
const FAIL_SET = new Set(FAIL_MODES);

export const DEFAULT_BEHAVIOR = Object.freeze({
  latencyMs: 0,
  chunkDelayMs: 0,
  completionTokens: 16,
  promptTokens: null,
  cachedTokens: 0,
  cacheWriteTokens: 0,
  fail: null,
  failCount: null,
  retryAfter: null,
  omitUsage: false,
  requireKey: null,
  toolCall: true,
  usageOverride: null,
  omitTerminal: false,
  answerModel: null,
  audioSeconds: null,
});

const MODELS = Object.freeze([
  ['gpt-4o', 'openai'],
  ['gpt-4o-mini', 'openai'],
  ['gpt-4.1-mini', 'openai'],
  ['text-embedding-3-small', 'openai'],
  ['claude-sonnet-4-5', 'anthropic'],
  ['claude-haiku-4-5', 'anthropic'],
]);
const MODELS_CREATED = 1700000000;

const STATUS = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** The model an answer names: the request's, unless `answerModel` says otherwise. */
function answerModelOf(beh, body, dflt) {
  if (beh.answerModel !== null && beh.answerModel !== undefined) return beh.answerModel;
  return typeof body.model === 'string' ? body.model : dflt;
}

const CT_JSON = 'application/json';
const CT_SSE = 'text/event-stream; charset=utf-8';
const TOOL_ARGS = '{"x":1}';
const TOOL_ARGS_PARTS = ['{"x":', '1}'];

// Route kinds.
const K_CHAT = 1, K_RESP = 2, K_EMB = 3, K_MODELS = 4, K_MODEL = 5, K_MSG = 6, K_COUNT = 7, K_404 = 8;
const K_IMAGES = 9, K_SPEECH = 10, K_AUDIO = 11;
const P_OPENAI = 0, P_ANTHROPIC = 1;

// ---------------------------------------------------------------------------
// Behaviour validation

function isNonNegInt(v) { return Number.isInteger(v) && v >= 0; }
function isNonNegNum(v) { return typeof v === 'number' && Number.isFinite(v) && v >= 0; }

/** Validate a behaviour patch; returns a clean copy or throws TypeError. */
export function validateBehaviorPatch(patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new TypeError('behavior must be an object');
  }
  const out = {};
  for (const key of Object.keys(patch)) {
    let v = patch[key];
    switch (key) {
      case 'latencyMs':
      case 'chunkDelayMs':
        if (!isNonNegNum(v)) throw new TypeError(`${key} must be a number >= 0`);
        break;
      case 'completionTokens':
      case 'cachedTokens':
      case 'cacheWriteTokens':
        if (!isNonNegInt(v)) throw new TypeError(`${key} must be an integer >= 0`);
        break;
      case 'promptTokens':
        if (v === 'tokenizer') break; // realistic counting, see bench/mock-prompt-tokens.mjs
      // falls through
      case 'failCount':
        if (v === undefined) v = null;
        if (v !== null && !isNonNegInt(v)) throw new TypeError(`${key} must be null or an integer >= 0`);
        break;
      case 'audioSeconds':
      case 'retryAfter':
        if (v === undefined) v = null;
        if (v !== null && !isNonNegNum(v)) throw new TypeError(`${key} must be null or a number >= 0`);
        break;
      case 'fail':
        if (v === undefined) v = null;
        if (typeof v === 'number') v = String(v);
        if (v !== null && !FAIL_SET.has(v)) {
          throw new TypeError(`fail must be null or one of ${FAIL_MODES.join(', ')}`);
        }
        break;
      case 'usageOverride':
        if (v === undefined) v = null;
        if (v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new TypeError('usageOverride must be null or an object');
        break;
      case 'omitUsage':
      case 'omitTerminal':
      case 'toolCall':
        if (typeof v !== 'boolean') throw new TypeError(`${key} must be a boolean`);
        break;
      case 'answerModel':
        if (v === undefined || v === '') v = null;
        if (v !== null && typeof v !== 'string') throw new TypeError('answerModel must be null or a string');
        break;
      case 'requireKey':
        if (v === undefined || v === '') v = null;
        if (v !== null && typeof v !== 'string') throw new TypeError('requireKey must be null or a string');
        break;
      default:
        throw new TypeError(`unknown behavior option: ${key}`);
    }
    out[key] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Deterministic content helpers

const WORDS = [];       // 'tok0', ' tok1', ' tok2', ... (delta form)
const TEXTS = [];       // full answers by word count
function deltaWord(i) {
  let w = WORDS[i];
  if (w === undefined) { w = i === 0 ? 'tok0' : ' tok' + i; if (i < 65536) WORDS[i] = w; }
  return w;
}
function answerText(n) {
  let t = TEXTS[n];
  if (t === undefined) {
    t = '';
    for (let i = 0; i < n; i++) t += deltaWord(i);
    if (n < 4096) TEXTS[n] = t;
  }
  return t;
}

/** Characters of request text, see the header comment for the exact rule. */
export function textChars(v) {
  if (typeof v === 'string') return v.length;
  if (typeof v === 'number') return 4;
  if (v === null || typeof v !== 'object') return 0;
  if (Array.isArray(v)) {
    let n = 0;
    for (let i = 0; i < v.length; i++) n += textChars(v[i]);
    return n;
  }
  let n = 0;
  if (typeof v.text === 'string') n += v.text.length;
  if (v.content !== undefined) n += textChars(v.content);
  if (typeof v.output === 'string') n += v.output.length;
  return n;
}

/** Prompt tokens the mock reports for a request body of the given endpoint. */
export function computePromptTokens(path, body, promptTokens = null) {
  if (promptTokens === 'tokenizer') return tokenizerPromptTokens(path, body);
  if (promptTokens !== null && promptTokens !== undefined) return promptTokens;
  let c = 0;
  if (body !== null && typeof body === 'object') {
    if (path.startsWith('/v1/messages')) c = textChars(body.system) + textChars(body.messages);
    else if (path === '/v1/responses') c = textChars(body.instructions) + textChars(body.input);
    else if (path === '/v1/embeddings') c = textChars(body.input);
    else c = textChars(body.messages);
  }
  return Math.ceil(c / 4);
}

/**
 * Choices a chat request asks for (`n`, 1..128). The mock answers one choice
 * but reports completion tokens for all of them, as the provider bills them.
 */
function choicesOf(body) {
  const n = body.n;
  return Number.isInteger(n) && n > 1 && n <= 128 ? n : 1;
}

function completionCount(completionTokens, body) {
  let n = completionTokens;
  let c = body.max_completion_tokens;
  if (typeof c === 'number' && c >= 0 && c < n) n = Math.floor(c);
  c = body.max_tokens;
  if (typeof c === 'number' && c >= 0 && c < n) n = Math.floor(c);
  c = body.max_output_tokens;
  if (typeof c === 'number' && c >= 0 && c < n) n = Math.floor(c);
  return n;
}

function firstToolName(tools) {
  const t = tools[0];
  if (t && typeof t === 'object') {
    if (typeof t.name === 'string') return t.name;
    if (t.function && typeof t.function.name === 'string') return t.function.name;
  }
  return 'tool';
}

function wantsTool(beh, body) {
  if (!beh.toolCall) return false;
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return false;
  const tc = body.tool_choice;
  if (tc === 'none' || (tc && typeof tc === 'object' && tc.type === 'none')) return false;
  return true;
}

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Deterministic float32-exact vector for an embedding input item. */
function embeddingVector(item, dims) {
  const key = typeof item === 'string' ? item : JSON.stringify(item);
  let h = fnv1a(key) || 1;
  const v = new Array(dims);
  for (let i = 0; i < dims; i++) {
    // xorshift32
    h ^= h << 13; h >>>= 0;
    h ^= h >>> 17;
    h ^= h << 5; h >>>= 0;
    v[i] = Math.fround((h / 4294967296) * 2 - 1);
  }
  return v;
}

function float32Base64(vec) {
  const buf = Buffer.allocUnsafe(vec.length * 4);
  for (let i = 0; i < vec.length; i++) buf.writeFloatLE(vec[i], i * 4);
  return buf.toString('base64');
}

function oaiUsage(p, c, cached, override = null) {
  if (override) return JSON.stringify({ ...JSON.parse(oaiUsage(p, c, cached)), ...override });
  return `{"prompt_tokens":${p},"completion_tokens":${c},"total_tokens":${p + c},"prompt_tokens_details":{"cached_tokens":${cached},"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`;
}

// ---------------------------------------------------------------------------
// Error bodies

function openaiError(status, message, extra) {
  let type = 'invalid_request_error', code = null;
  if (status === 401) code = 'invalid_api_key';
  else if (status === 429) { type = 'requests'; code = 'rate_limit_exceeded'; }
  else if (status === 500) type = 'server_error';
  else if (status === 503) { type = 'server_error'; code = 'service_unavailable'; }
  else if (status === 404) code = extra || null;
  return JSON.stringify({ error: { message, type, param: null, code } });
}

function anthropicError(status, message, rid) {
  let type = 'invalid_request_error';
  if (status === 401) type = 'authentication_error';
  else if (status === 404) type = 'not_found_error';
  else if (status === 413) type = 'request_too_large';
  else if (status === 429) type = 'rate_limit_error';
  else if (status === 500) type = 'api_error';
  else if (status === 503) type = 'overloaded_error';
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: rid });
}

const ERR_MSG = {
  400: 'We could not parse the JSON body of your request. (mock)',
  401: 'Incorrect API key provided. (mock)',
  413: 'Request body too large. (mock)',
  429: 'Rate limit reached. (mock)',
  500: 'The server had an error while processing your request. (mock)',
  503: 'The server is overloaded. (mock)',
};

// ---------------------------------------------------------------------------
// Per-request state

class Ctx {
  constructor(res, kind, proto, path, method) {
    this.res = res;
    this.kind = kind;
    this.proto = proto;
    this.path = path;
    this.method = method;
    this.headers = null;
    this.body = null;
    this.beh = null;
    this.fail = null;
    this.retryAfter = null;
    this.rid = '';
    this.done = false;
    this.timer = null;
    // streaming
    this.frames = null;
    this.i = 0;
    this.cutAt = -1;
    this.bp = false;
    this.cutWhenDrained = false;
    this.delay = 0;
    // pending outcome after latency
    this.status = 0;
    this.payload = '';
  }
}

function onDelayTimer(srv, ctx) {
  ctx.timer = null;
  if (!ctx.done && !ctx.bp) srv.pump(ctx);
}

function cutNow(srv, ctx) {
  if (ctx.done) return;
  if (ctx.bp) { ctx.cutWhenDrained = true; return; }
  srv.kill(ctx);
}

function onLatencyTimer(srv, ctx) {
  ctx.timer = null;
  if (!ctx.done) srv.execute(ctx);
}

// ---------------------------------------------------------------------------

class MockServer {
  constructor(initial) {
    this.initial = initial;
    this.beh = initial;
    this.failRemaining = initial.failCount;
    this.active = new Set();
    this.closed = false;
    this.listenSocket = null;
    this.port = 0;
    this.seq = 0;
    this.resetStats();
  }

  resetStats() {
    this.requests = 0;
    this.byPath = Object.create(null);
    this.byModel = Object.create(null);
    this.lastHeaders = {};
    this.lastBody = null;
    this.aborted = 0;
    this.failures = 0;
  }

  setBehavior(patch) {
    const clean = validateBehaviorPatch(patch);
    this.beh = Object.freeze({ ...this.beh, ...clean });
    if ('fail' in clean || 'failCount' in clean) this.failRemaining = this.beh.failCount;
    return this.beh;
  }

  reset(keepBehavior = false) {
    this.resetStats();
    if (!keepBehavior) {
      this.beh = this.initial;
    }
    this.failRemaining = this.beh.failCount;
  }

  stats() {
    return {
      requests: this.requests,
      byPath: { ...this.byPath },
      byModel: { ...this.byModel },
      lastHeaders: { ...this.lastHeaders },
      lastBody: this.lastBody,
      inFlight: this.active.size,
      aborted: this.aborted,
      failures: this.failures,
    };
  }

  // --- request entry -------------------------------------------------------

  handle(res, req, kind, proto) {
    if (this.closed) { res.close(); return; }
    const path = req.getUrl();
    const method = req.getMethod();
    const headers = {};
    req.forEach((k, v) => { headers[k] = headers[k] === undefined ? v : headers[k] + ', ' + v; });
    const ctx = new Ctx(res, kind, proto, path, method);
    ctx.headers = headers;
    ctx.rid = (proto === P_ANTHROPIC ? 'req_mock' : 'req-mock') + (++this.seq);
    this.requests++;
    this.byPath[path] = (this.byPath[path] | 0) + 1;
    this.active.add(ctx);
    res.onAborted(() => this.onAborted(ctx));

    if (method === 'get' || method === 'head') {
      this.lastHeaders = headers;
      this.lastBody = null;
      this.afterBody(ctx, null);
      return;
    }
    const cl = headers['content-length'];
    if (cl !== undefined && Number(cl) > MAX_BODY_BYTES) {
      this.lastHeaders = headers;
      this.lastBody = null;
      this.sendError(ctx, 413, ERR_MSG[413], true);
      return;
    }
    let chunks = null;
    let size = 0;
    res.onData((ab, isLast) => {
      if (ctx.done) return;
      const len = ab.byteLength;
      size += len;
      if (size > MAX_BODY_BYTES) {
        this.lastHeaders = headers;
        this.lastBody = null;
        this.sendError(ctx, 413, ERR_MSG[413], true);
        return;
      }
      if (!isLast) {
        if (len > 0) (chunks ??= []).push(Buffer.from(Buffer.from(ab)));
        return;
      }
      let str;
      if (kind === K_AUDIO) {
        // A multipart upload: binary, kept as bytes.
        if (len > 0) (chunks ??= []).push(Buffer.from(Buffer.from(ab)));
        ctx.raw = chunks === null ? Buffer.alloc(0) : Buffer.concat(chunks, size);
        chunks = null;
        this.afterBody(ctx, '');
        return;
      }
      if (chunks === null) str = len === 0 ? '' : Buffer.from(ab).toString('utf8');
      else {
        if (len > 0) chunks.push(Buffer.from(ab));
        str = Buffer.concat(chunks, size).toString('utf8');
        chunks = null;
      }
      this.afterBody(ctx, str);
    });
  }

  onAborted(ctx) {
    if (ctx.timer !== null) { clearTimeout(ctx.timer); ctx.timer = null; }
    if (!ctx.done) {
      ctx.done = true;
      this.aborted++;
    }
    this.active.delete(ctx);
  }

  afterBody(ctx, str) {
    const kind = ctx.kind;
    let body = null;
    let bad = false;
    if (kind === K_AUDIO) {
      body = audioForm(ctx.raw, ctx.headers['content-type'] ?? '');
      bad = body === null;
    } else if (str !== null && kind !== K_404 && kind !== K_MODELS && kind !== K_MODEL) {
      try { body = JSON.parse(str); } catch { bad = true; }
      if (!bad && (body === null || typeof body !== 'object' || Array.isArray(body))) bad = true;
    }
    ctx.body = body;
    this.lastHeaders = ctx.headers;
    this.lastBody = bad ? null : body;
    if (body !== null && typeof body.model === 'string') {
      this.byModel[body.model] = (this.byModel[body.model] | 0) + 1;
    }

    const beh = this.beh;
    ctx.beh = beh;
    if (kind === K_404) {
      ctx.status = 404;
    } else if (bad) {
      ctx.status = 400;
    } else if (beh.requireKey !== null && !this.authorized(ctx, beh.requireKey)) {
      ctx.status = 401;
    } else {
      ctx.status = 200;
      const hdrFail = ctx.headers['x-mock-fail'];
      if (hdrFail !== undefined && FAIL_SET.has(hdrFail)) {
        ctx.fail = hdrFail;
      } else if (beh.fail !== null) {
        if (this.failRemaining === null) ctx.fail = beh.fail;
        else if (this.failRemaining > 0) { this.failRemaining--; ctx.fail = beh.fail; }
      }
      if (ctx.fail !== null) {
        this.failures++;
        const hra = ctx.headers['x-mock-retry-after'];
        ctx.retryAfter = hra !== undefined && hra !== '' ? hra : beh.retryAfter;
        if (ctx.fail === 'timeout') return; // never answer
      }
    }
    if (beh.latencyMs > 0) ctx.timer = setTimeout(onLatencyTimer, beh.latencyMs, this, ctx);
    else this.execute(ctx);
  }

  authorized(ctx, key) {
    if (ctx.proto === P_ANTHROPIC) return ctx.headers['x-api-key'] === key;
    return ctx.headers['authorization'] === 'Bearer ' + key;
  }

  execute(ctx) {
    try {
      this.executeInner(ctx);
    } catch (err) {
      // A bug in the mock must not take the process down: answer 500 if we still can.
      process.stderr.write(`mock upstream: internal error on ${ctx.path}: ${err && err.stack || err}\n`);
      if (!ctx.done) this.sendError(ctx, 500, 'mock internal error: ' + (err && err.message), false);
    }
  }

  executeInner(ctx) {
    const st = ctx.status;
    if (st === 404) {
      const msg = `Invalid URL (${ctx.method.toUpperCase()} ${ctx.path})`;
      this.sendError(ctx, 404, msg, false);
      return;
    }
    if (st !== 200) { this.sendError(ctx, st, ERR_MSG[st], false); return; }
    const fail = ctx.fail;
    if (fail !== null) {
      if (fail === 'reset') { this.kill(ctx); return; }
      if (fail === '500' || fail === '503' || fail === '429') {
        const code = +fail;
        this.sendError(ctx, code, ERR_MSG[code], false);
        return;
      }
    }
    const body = ctx.body;
    switch (ctx.kind) {
      case K_CHAT: body.stream === true ? this.chatStream(ctx) : this.chat(ctx); return;
      case K_RESP: body.stream === true ? this.responsesStream(ctx) : this.responses(ctx); return;
      case K_MSG: body.stream === true ? this.messagesStream(ctx) : this.messages(ctx); return;
      case K_COUNT: this.countTokens(ctx); return;
      case K_EMB: this.embeddings(ctx); return;
      case K_MODELS: this.models(ctx); return;
      case K_MODEL: this.model(ctx); return;
      case K_IMAGES: this.images(ctx); return;
      case K_SPEECH: this.speech(ctx); return;
      case K_AUDIO: this.audio(ctx); return;
    }
  }

  // --- low level writers -----------------------------------------------------

  finish(ctx) {
    ctx.done = true;
    if (ctx.timer !== null) { clearTimeout(ctx.timer); ctx.timer = null; }
    this.active.delete(ctx);
  }

  /** Close the connection on purpose (not counted as aborted). */
  kill(ctx) {
    if (ctx.done) return;
    this.finish(ctx);
    ctx.res.close();
  }

  /**
   * Close the connection after what was written so far has been flushed: the
   * write may still sit in uWS' cork buffer (we may be inside the request
   * handler) or in its backpressure buffer (then onWritable comes back here).
   */
  cutLater(ctx) {
    setImmediate(cutNow, this, ctx);
  }

  sendError(ctx, status, message, closeConnection) {
    const rid = ctx.rid;
    const json = ctx.proto === P_ANTHROPIC ? anthropicError(status, message, rid) : openaiError(status, message, null);
    const retryAfter = status === 429 ? ctx.retryAfter : null;
    this.finish(ctx);
    const res = ctx.res;
    res.cork(() => {
      res.writeStatus(STATUS[status]);
      res.writeHeader('content-type', CT_JSON);
      res.writeHeader(ctx.proto === P_ANTHROPIC ? 'request-id' : 'x-request-id', rid);
      if (retryAfter !== null && retryAfter !== undefined) res.writeHeader('retry-after', String(retryAfter));
      res.end(json, closeConnection);
    });
  }

  /** Send a successful JSON body, honouring 'malformed-sse' / 'cut-stream' for non-streams. */
  sendJson(ctx, json) {
    const res = ctx.res;
    const fail = ctx.fail;
    if (fail === 'cut-stream') {
      res.cork(() => {
        res.writeStatus('200 OK');
        res.writeHeader('content-type', CT_JSON);
        res.writeHeader(ctx.proto === P_ANTHROPIC ? 'request-id' : 'x-request-id', ctx.rid);
        if (!res.write(json.slice(0, json.length >> 1))) ctx.bp = true;
      });
      res.onWritable(() => {
        ctx.bp = false;
        if (ctx.cutWhenDrained) this.kill(ctx);
        return true;
      });
      this.cutLater(ctx);
      return;
    }
    if (fail === 'malformed-sse') json = json.slice(0, json.length >> 1);
    this.finish(ctx);
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', CT_JSON);
      res.writeHeader(ctx.proto === P_ANTHROPIC ? 'request-id' : 'x-request-id', ctx.rid);
      res.end(json);
    });
  }

  /**
   * Start an SSE stream made of `frames` (strings). `malformed` is a broken
   * event inserted after the first frame when fail === 'malformed-sse'.
   */
  startStream(ctx, frames, malformed) {
    const fail = ctx.fail;
    if (fail === 'malformed-sse') {
      frames.splice(1, 0, malformed);
    } else if (fail === 'cut-stream') {
      if (frames.length >= 2) ctx.cutAt = frames.length >> 1;
      else { frames[0] = frames[0].slice(0, frames[0].length >> 1); ctx.cutAt = 1; }
    }
    ctx.frames = frames;
    ctx.delay = ctx.beh.chunkDelayMs;
    const res = ctx.res;
    res.onWritable(() => {
      if (ctx.bp) {
        ctx.bp = false;
        if (ctx.cutWhenDrained) this.kill(ctx);
        else if (ctx.timer === null && !ctx.done) this.pump(ctx);
      }
      return true;
    });
    let cut = false;
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', CT_SSE);
      res.writeHeader('cache-control', 'no-cache');
      res.writeHeader(ctx.proto === P_ANTHROPIC ? 'request-id' : 'x-request-id', ctx.rid);
      cut = this.pumpCorked(ctx);
    });
    if (cut) this.cutLater(ctx);
  }

  pump(ctx) {
    if (ctx.done) return;
    let cut = false;
    ctx.res.cork(() => { cut = this.pumpCorked(ctx); });
    if (cut) this.cutLater(ctx);
  }

  /** Write frames until done, a delay, backpressure or the cut point. Returns true to cut. */
  pumpCorked(ctx) {
    const res = ctx.res;
    const frames = ctx.frames;
    const n = frames.length;
    for (;;) {
      // cut point reached: close once flushed (cutLater); never write past it
      if (ctx.cutAt >= 0 && ctx.i >= ctx.cutAt) return ctx.i++ === ctx.cutAt;
      if (ctx.i === n) {
        this.finish(ctx);
        res.end();
        return false;
      }
      if (!res.write(frames[ctx.i++])) ctx.bp = true;
      if (ctx.delay > 0 && ctx.i < n && ctx.i !== ctx.cutAt) {
        ctx.timer = setTimeout(onDelayTimer, ctx.delay, this, ctx);
        return false;
      }
      if (ctx.bp) return false;
    }
  }

  // --- OpenAI chat completions ---------------------------------------------

  chat(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const model = answerModelOf(beh, body, 'mock-model');
    const P = computePromptTokens('/v1/chat/completions', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    const created = (Date.now() / 1000) | 0;
    const id = 'chatcmpl-mock' + this.seq;
    let message, finish;
    if (wantsTool(beh, body)) {
      message = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_mock${this.seq}","type":"function","function":{"name":${JSON.stringify(firstToolName(body.tools))},"arguments":${JSON.stringify(TOOL_ARGS)}}}],"refusal":null,"annotations":[]}`;
      finish = 'tool_calls';
    } else {
      message = `{"role":"assistant","content":"${answerText(N)}","refusal":null,"annotations":[]}`;
      finish = N < beh.completionTokens ? 'length' : 'stop';
    }
    const usage = beh.omitUsage ? '' : `,"usage":${oaiUsage(P, N * choicesOf(body), beh.cachedTokens, beh.usageOverride)}`;
    this.sendJson(ctx, `{"id":"${id}","object":"chat.completion","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${finish}"}]${usage},"service_tier":"default","system_fingerprint":null}`);
  }

  chatStream(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const model = answerModelOf(beh, body, 'mock-model');
    const P = computePromptTokens('/v1/chat/completions', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    const created = (Date.now() / 1000) | 0;
    const id = 'chatcmpl-mock' + this.seq;
    const includeUsage = body.stream_options != null && body.stream_options.include_usage === true;
    const un = includeUsage ? ',"usage":null' : '';
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"service_tier":"default","system_fingerprint":null,"choices":[`;
    let tail = '';
    const frames = [];
    let finish;
    if (wantsTool(beh, body)) {
      finish = 'tool_calls';
      frames.push(`${head}{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_mock${this.seq}","type":"function","function":{"name":${JSON.stringify(firstToolName(body.tools))},"arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]${un}}\n\n`);
      for (const part of TOOL_ARGS_PARTS) {
        frames.push(`${head}{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(part)}}}]},"logprobs":null,"finish_reason":null}]${un}}\n\n`);
      }
    } else {
      finish = N < beh.completionTokens ? 'length' : 'stop';
      const role = `${head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]${un}}\n\n`;
      if (N === 0) frames.push(role);
      for (let i = 0; i < N; i++) {
        const chunk = `${head}{"index":0,"delta":{"content":"${deltaWord(i)}"},"logprobs":null,"finish_reason":null}]${un}}\n\n`;
        frames.push(i === 0 ? role + chunk : chunk);
      }
    }
    tail += `${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finish}"}]${un}}\n\n`;
    if (includeUsage && !beh.omitUsage) tail += `${head}],"usage":${oaiUsage(P, N * choicesOf(body), beh.cachedTokens, beh.usageOverride)}}\n\n`;
    if (!beh.omitTerminal) tail += 'data: [DONE]\n\n';
    frames[frames.length - 1] += tail;
    this.startStream(ctx, frames, 'data: {"id":"' + id + '","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n');
  }

  // --- OpenAI responses ------------------------------------------------------

  responseObject(ctx, id, createdAt, status, output, usage, truncated) {
    const body = ctx.body;
    return {
      id,
      object: 'response',
      created_at: createdAt,
      status,
      background: false,
      error: null,
      incomplete_details: truncated && status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      max_tool_calls: null,
      model: answerModelOf(ctx.beh, body, 'mock-model'),
      output,
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: body.previous_response_id ?? null,
      reasoning: { effort: null, summary: null },
      service_tier: 'default',
      store: body.store ?? true,
      temperature: body.temperature ?? 1,
      text: { format: { type: 'text' }, verbosity: 'medium' },
      tool_choice: body.tool_choice ?? 'auto',
      tools: Array.isArray(body.tools) ? body.tools : [],
      top_p: body.top_p ?? 1,
      truncation: 'disabled',
      usage,
      user: null,
      metadata: body.metadata ?? {},
    };
  }

  responsesUsage(P, N, beh) {
    if (beh.omitUsage) return null;
    return {
      input_tokens: P,
      input_tokens_details: { cached_tokens: beh.cachedTokens },
      output_tokens: N,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: P + N,
    };
  }

  responses(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const P = computePromptTokens('/v1/responses', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    const seq = this.seq;
    const createdAt = (Date.now() / 1000) | 0;
    let output, status = 'completed', truncated = false;
    if (wantsTool(beh, body)) {
      output = [{ type: 'function_call', id: `fc_mock${seq}`, call_id: `call_mock${seq}`, name: firstToolName(body.tools), arguments: TOOL_ARGS, status: 'completed' }];
    } else {
      truncated = N < beh.completionTokens;
      if (truncated) status = 'incomplete';
      output = [{
        type: 'message', id: `msg_mock${seq}`, status: truncated ? 'incomplete' : 'completed', role: 'assistant',
        content: [{ type: 'output_text', text: answerText(N), annotations: [], logprobs: [] }],
      }];
    }
    const usage = this.responsesUsage(P, N, beh);
    this.sendJson(ctx, JSON.stringify(this.responseObject(ctx, `resp_mock${seq}`, createdAt, status, output, usage, truncated)));
  }

  responsesStream(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const P = computePromptTokens('/v1/responses', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    const rseq = this.seq;
    const createdAt = (Date.now() / 1000) | 0;
    const respId = `resp_mock${rseq}`;
    let sn = 0;
    const ev = (type, obj) => {
      obj.sequence_number = sn++;
      return `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;
    };
    const frames = [];
    const startObj = this.responseObject(ctx, respId, createdAt, 'in_progress', [], null, false);
    let open = ev('response.created', { response: startObj }) + ev('response.in_progress', { response: startObj });
    let finalOutput, status = 'completed', truncated = false;
    if (wantsTool(beh, body)) {
      const itemId = `fc_mock${rseq}`;
      const name = firstToolName(body.tools);
      const item = { type: 'function_call', id: itemId, call_id: `call_mock${rseq}`, name, arguments: '', status: 'in_progress' };
      frames.push(open + ev('response.output_item.added', { output_index: 0, item }));
      for (const part of TOOL_ARGS_PARTS) {
        frames.push(ev('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: part }));
      }
      const doneItem = { ...item, arguments: TOOL_ARGS, status: 'completed' };
      finalOutput = [doneItem];
      frames[frames.length - 1] +=
        ev('response.function_call_arguments.done', { item_id: itemId, output_index: 0, name, arguments: TOOL_ARGS }) +
        ev('response.output_item.done', { output_index: 0, item: doneItem });
    } else {
      truncated = N < beh.completionTokens;
      if (truncated) status = 'incomplete';
      const itemId = `msg_mock${rseq}`;
      open += ev('response.output_item.added', { output_index: 0, item: { id: itemId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } }) +
        ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
      if (N === 0) frames.push(open);
      const dpre = `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"${itemId}","output_index":0,"content_index":0,"delta":"`;
      for (let i = 0; i < N; i++) {
        const d = `${dpre}${deltaWord(i)}","logprobs":[],"sequence_number":${sn++}}\n\n`;
        frames.push(i === 0 ? open + d : d);
      }
      const text = answerText(N);
      const part = { type: 'output_text', annotations: [], logprobs: [], text };
      const doneItem = { id: itemId, type: 'message', status: truncated ? 'incomplete' : 'completed', content: [part], role: 'assistant' };
      finalOutput = [doneItem];
      frames[frames.length - 1] +=
        ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }) +
        ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part }) +
        ev('response.output_item.done', { output_index: 0, item: doneItem });
    }
    const usage = this.responsesUsage(P, N, beh);
    const finalObj = this.responseObject(ctx, respId, createdAt, status, finalOutput, usage, truncated);
    frames[frames.length - 1] += ev(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: finalObj });
    this.startStream(ctx, frames, 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n');
  }

  // --- embeddings / models ----------------------------------------------------

  embeddings(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const input = body.input;
    let items;
    if (typeof input === 'string') items = [input];
    else if (Array.isArray(input)) items = input.length > 0 && typeof input[0] === 'number' ? [input] : input;
    else items = [''];
    const dims = isNonNegInt(body.dimensions) && body.dimensions > 0 && body.dimensions <= 4096 ? body.dimensions : 8;
    const b64 = body.encoding_format === 'base64';
    const data = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const vec = embeddingVector(items[i], dims);
      data[i] = { object: 'embedding', index: i, embedding: b64 ? float32Base64(vec) : vec };
    }
    const out = { object: 'list', data, model: answerModelOf(beh, body, 'mock-embedding') };
    if (!beh.omitUsage) {
      const P = computePromptTokens('/v1/embeddings', body, beh.promptTokens);
      out.usage = { prompt_tokens: P, total_tokens: P };
    }
    this.sendJson(ctx, JSON.stringify(out));
  }

  isAnthropicClient(ctx) {
    return ctx.headers['anthropic-version'] !== undefined;
  }

  modelEntry(ctx, id, owner) {
    if (this.isAnthropicClient(ctx)) {
      return { type: 'model', id, display_name: id, created_at: new Date(MODELS_CREATED * 1000).toISOString() };
    }
    return { id, object: 'model', created: MODELS_CREATED, owned_by: owner };
  }

  models(ctx) {
    const data = MODELS.map(([id, owner]) => this.modelEntry(ctx, id, owner));
    const out = this.isAnthropicClient(ctx)
      ? { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id }
      : { object: 'list', data };
    this.sendJson(ctx, JSON.stringify(out));
  }

  model(ctx) {
    const id = decodeURIComponent(ctx.path.slice('/v1/models/'.length));
    const known = MODELS.find((m) => m[0] === id);
    this.sendJson(ctx, JSON.stringify(this.modelEntry(ctx, id, known ? known[1] : 'mock')));
  }

  // --- images and audio --------------------------------------------------------

  images(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const n = isNonNegInt(body.n) && body.n > 0 ? body.n : 1;
    const b64 = body.response_format === 'b64_json' || String(body.model).startsWith('gpt-image');
    const data = [];
    for (let i = 0; i < n; i++) data.push(b64 ? { b64_json: 'iVBORw0KGgo=' } : { url: `https://mock.invalid/image-${this.seq}-${i}.png`, revised_prompt: String(body.prompt ?? '') });
    const out = { created: (Date.now() / 1000) | 0, data };
    // GPT image models report tokens: the prompt's, and a fixed 1056 output tokens an image (low quality, 1024x1024).
    if (String(body.model).startsWith('gpt-image') && !beh.omitUsage) {
      const P = computePromptTokens('/v1/embeddings', { input: body.prompt ?? '' }, beh.promptTokens);
      out.usage = { input_tokens: P, output_tokens: 1056 * n, total_tokens: P + 1056 * n, input_tokens_details: { text_tokens: P, image_tokens: 0 } };
    }
    this.sendJson(ctx, JSON.stringify(out));
  }

  speech(ctx) {
    // Audio bytes: an MP3-ish blob whose length follows the input, so relays can be checked byte for byte.
    const input = String(ctx.body.input ?? '');
    const bytes = Buffer.alloc(64 + input.length);
    bytes.write('ID3', 0, 'latin1');
    for (let i = 3; i < bytes.length; i++) bytes[i] = (i * 31 + input.length) & 0xff;
    this.finish(ctx);
    const res = ctx.res;
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', 'audio/mpeg');
      res.writeHeader('x-request-id', ctx.rid);
      res.end(bytes);
    });
  }

  audio(ctx) {
    // The duration: behaviour audioSeconds, else a WAV upload's own (data bytes / byte rate), else 1 s.
    const form = ctx.body, beh = ctx.beh;
    const seconds = beh.audioSeconds ?? wavSeconds(form.file) ?? 1;
    const text = 'mock transcript';
    const fmt = form.fields.response_format ?? 'json';
    if (fmt === 'text') {
      this.finish(ctx);
      ctx.res.cork(() => ctx.res.writeStatus('200 OK').writeHeader('content-type', 'text/plain').end(text));
      return;
    }
    const tokens = String(form.fields.model).startsWith('gpt-4o');
    const out = fmt === 'verbose_json'
      ? { task: ctx.path.endsWith('translations') ? 'translate' : 'transcribe', language: 'english', duration: seconds, text, segments: [] }
      : { text };
    if (!beh.omitUsage && fmt !== 'verbose_json') {
      out.usage = tokens
        ? { type: 'tokens', input_tokens: Math.ceil(seconds * 10), input_token_details: { text_tokens: 0, audio_tokens: Math.ceil(seconds * 10) }, output_tokens: 3, total_tokens: Math.ceil(seconds * 10) + 3 }
        : { type: 'duration', seconds: Math.ceil(seconds) };
    }
    this.sendJson(ctx, JSON.stringify(out));
  }

  // --- Anthropic messages -----------------------------------------------------

  anthropicUsage(P, outTokens, beh) {
    const input = Math.max(0, P - beh.cachedTokens - beh.cacheWriteTokens);
    return `{"input_tokens":${input},"cache_creation_input_tokens":${beh.cacheWriteTokens},"cache_read_input_tokens":${beh.cachedTokens},"output_tokens":${outTokens}}`;
  }

  messages(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const model = answerModelOf(beh, body, 'mock-model');
    const P = computePromptTokens('/v1/messages', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    let content, stop;
    if (wantsTool(beh, body)) {
      content = `[{"type":"tool_use","id":"toolu_mock${this.seq}","name":${JSON.stringify(firstToolName(body.tools))},"input":${TOOL_ARGS}}]`;
      stop = 'tool_use';
    } else {
      content = `[{"type":"text","text":"${answerText(N)}"}]`;
      stop = N < beh.completionTokens ? 'max_tokens' : 'end_turn';
    }
    const usage = beh.omitUsage ? '' : `,"usage":${this.anthropicUsage(P, N, beh)}`;
    this.sendJson(ctx, `{"id":"msg_mock${this.seq}","type":"message","role":"assistant","model":${JSON.stringify(model)},"content":${content},"stop_reason":"${stop}","stop_sequence":null${usage}}`);
  }

  messagesStream(ctx) {
    const body = ctx.body, beh = ctx.beh;
    const model = answerModelOf(beh, body, 'mock-model');
    const P = computePromptTokens('/v1/messages', body, beh.promptTokens);
    const N = completionCount(beh.completionTokens, body);
    const startUsage = beh.omitUsage ? '' : `,"usage":${this.anthropicUsage(P, 1, beh)}`;
    const start = `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_mock${this.seq}","type":"message","role":"assistant","model":${JSON.stringify(model)},"content":[],"stop_reason":null,"stop_sequence":null${startUsage}}}\n\n`;
    const ping = 'event: ping\ndata: {"type":"ping"}\n\n';
    const frames = [];
    let stop;
    if (wantsTool(beh, body)) {
      stop = 'tool_use';
      const name = JSON.stringify(firstToolName(body.tools));
      frames.push(start +
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_mock${this.seq}","name":${name},"input":{}}}\n\n` +
        ping +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}\n\n');
      for (const part of TOOL_ARGS_PARTS) {
        frames.push(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":${JSON.stringify(part)}}}\n\n`);
      }
    } else {
      stop = N < beh.completionTokens ? 'max_tokens' : 'end_turn';
      const open = start + 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' + ping;
      if (N === 0) frames.push(open);
      for (let i = 0; i < N; i++) {
        const d = `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${deltaWord(i)}"}}\n\n`;
        frames.push(i === 0 ? open + d : d);
      }
    }
    const endUsage = beh.omitUsage ? '' : `,"usage":{"output_tokens":${N}}`;
    frames[frames.length - 1] +=
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n' +
      `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"${stop}","stop_sequence":null}${endUsage}}\n\n` +
      'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    this.startStream(ctx, frames, 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":\n\n');
  }

  countTokens(ctx) {
    const P = computePromptTokens('/v1/messages', ctx.body, ctx.beh.promptTokens);
    this.sendJson(ctx, `{"input_tokens":${P}}`);
  }

  // --- control endpoints -------------------------------------------------------

  control(res, req, what) {
    if (this.closed) { res.close(); return; }
    const method = req.getMethod();
    const query = req.getQuery() || '';
    const reply = (status, obj) => {
      res.cork(() => {
        res.writeStatus(STATUS[status]).writeHeader('content-type', CT_JSON).end(JSON.stringify(obj));
      });
    };
    if (method === 'get') {
      if (what === 'stats') reply(200, this.stats());
      else if (what === 'behavior') reply(200, this.beh);
      else reply(404, { error: { message: 'unknown control endpoint', type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    const chunks = [];
    let size = 0;
    res.onData((ab, isLast) => {
      if (aborted) return;
      size += ab.byteLength;
      if (size > MAX_BODY_BYTES) { aborted = true; res.cork(() => res.writeStatus(STATUS[413]).end('{}', true)); return; }
      chunks.push(Buffer.from(Buffer.from(ab)));
      if (!isLast) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (what === 'reset') {
        this.reset(/(^|&)keep-behavior=(1|true)(&|$)/.test(query));
        reply(200, { ok: true, behavior: this.beh });
      } else if (what === 'behavior') {
        try {
          const patch = text.trim() === '' ? {} : JSON.parse(text);
          reply(200, this.setBehavior(patch));
        } catch (e) {
          reply(400, { error: { message: String(e && e.message || e), type: 'invalid_request_error', param: null, code: null } });
        }
      } else {
        reply(404, { error: { message: 'unknown control endpoint', type: 'invalid_request_error', param: null, code: null } });
      }
    });
  }

  // --- lifecycle -----------------------------------------------------------------

  listen(port) {
    const app = uWS.App();
    const route = (kind, proto) => (res, req) => this.handle(res, req, kind, proto);
    app.post('/v1/chat/completions', route(K_CHAT, P_OPENAI));
    app.post('/v1/responses', route(K_RESP, P_OPENAI));
    app.post('/v1/embeddings', route(K_EMB, P_OPENAI));
    app.get('/v1/models', route(K_MODELS, P_OPENAI));
    app.get('/v1/models/:id', route(K_MODEL, P_OPENAI));
    app.post('/v1/images/generations', route(K_IMAGES, P_OPENAI));
    app.post('/v1/audio/speech', route(K_SPEECH, P_OPENAI));
    app.post('/v1/audio/transcriptions', route(K_AUDIO, P_OPENAI));
    app.post('/v1/audio/translations', route(K_AUDIO, P_OPENAI));
    app.post('/v1/messages', route(K_MSG, P_ANTHROPIC));
    app.post('/v1/messages/count_tokens', route(K_COUNT, P_ANTHROPIC));
    app.any('/__mock/stats', (res, req) => this.control(res, req, 'stats'));
    app.any('/__mock/behavior', (res, req) => this.control(res, req, 'behavior'));
    app.any('/__mock/reset', (res, req) => this.control(res, req, 'reset'));
    app.any('/v1/messages/*', route(K_404, P_ANTHROPIC));
    app.any('/*', route(K_404, P_OPENAI));
    this.app = app;
    return new Promise((resolve, reject) => {
      app.listen(HOST, port, uWS.LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1, (ls) => {
        if (!ls) { reject(new Error(`mock upstream: cannot listen on ${HOST}:${port}`)); return; }
        this.listenSocket = ls;
        this.port = uWS.us_socket_local_port(ls);
        resolve();
      });
    });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.listenSocket) { uWS.us_listen_socket_close(this.listenSocket); this.listenSocket = null; }
    for (const ctx of [...this.active]) {
      if (ctx.timer !== null) { clearTimeout(ctx.timer); ctx.timer = null; }
      if (!ctx.done) { ctx.done = true; try { ctx.res.close(); } catch { /* already gone */ } }
    }
    this.active.clear();
  }
}

/**
 * Start a mock upstream on 127.0.0.1.
 * @param {object} [opts] `port` (0 = random) plus any behaviour option (see header).
 * @returns {Promise<{url:string, port:number, close():Promise<void>, stats():object, reset(o?:{keepBehavior?:boolean}):void, setBehavior(b:object):object, behavior():object}>}
 */
export async function startMockUpstream(opts = {}) {
  const { port = 0, ...rest } = opts ?? {};
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('port must be an integer 0..65535');
  const initial = Object.freeze({ ...DEFAULT_BEHAVIOR, ...validateBehaviorPatch(rest) });
  const srv = new MockServer(initial);
  await srv.listen(port);
  const url = `http://${HOST}:${srv.port}`;
  return {
    url,
    port: srv.port,
    close: async () => { srv.close(); },
    stats: () => srv.stats(),
    reset: (o) => srv.reset(!!(o && o.keepBehavior)),
    setBehavior: (b) => srv.setBehavior(b),
    behavior: () => srv.beh,
  };
}

// ---------------------------------------------------------------------------
// CLI

/** The fields and the file of a multipart/form-data upload (null when it is not one). */
function audioForm(raw, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  if (!m) return null;
  const boundary = m[1] ?? m[2];
  const fields = {};
  let file = null;
  for (const chunk of raw.toString('latin1').split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const head = chunk.indexOf('\r\n\r\n');
    if (head < 0) return null;
    const name = /name="([^"]*)"/.exec(chunk.slice(0, head))?.[1];
    const value = chunk.slice(head + 4, chunk.length - 2);
    if (name === 'file') file = Buffer.from(value, 'latin1');
    else if (name) fields[name] = Buffer.from(value, 'latin1').toString('utf8');
  }
  if (!file || !fields.model) return null;
  return { model: fields.model, fields, file };
}

/** A PCM WAV's length in seconds, or null. */
function wavSeconds(b) {
  if (b.length < 44 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') return null;
  let rate = 0;
  for (let p = 12; p + 8 <= b.length;) {
    const id = b.toString('latin1', p, p + 4), size = b.readUInt32LE(p + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(p + 16);
    if (id === 'data') return rate ? Math.min(size, b.length - p - 8) / rate : null;
    p += 8 + size + (size & 1);
  }
  return null;
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9100' },
      latency: { type: 'string' },
      'chunk-delay': { type: 'string' },
      'completion-tokens': { type: 'string' },
      'prompt-tokens': { type: 'string' },
      'cached-tokens': { type: 'string' },
      'cache-write-tokens': { type: 'string' },
      fail: { type: 'string' },
      'fail-count': { type: 'string' },
      'retry-after': { type: 'string' },
      'omit-usage': { type: 'boolean' },
      'require-key': { type: 'string' },
      'no-tool-call': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: node bench/mock-upstream.mjs [--port 9100] [--latency MS] [--chunk-delay MS] ' +
      '[--completion-tokens N] [--prompt-tokens N] [--cached-tokens N] [--cache-write-tokens N] ' +
      `[--fail ${FAIL_MODES.join('|')}] [--fail-count N] [--retry-after S] [--omit-usage] [--require-key KEY] [--no-tool-call]\n`);
    return;
  }
  const num = (name, v) => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n)) throw new TypeError(`--${name} expects a number`);
    return n;
  };
  const opts = { port: num('port', values.port) };
  if (values.latency !== undefined) opts.latencyMs = num('latency', values.latency);
  if (values['chunk-delay'] !== undefined) opts.chunkDelayMs = num('chunk-delay', values['chunk-delay']);
  if (values['completion-tokens'] !== undefined) opts.completionTokens = num('completion-tokens', values['completion-tokens']);
  if (values['prompt-tokens'] !== undefined) opts.promptTokens = num('prompt-tokens', values['prompt-tokens']);
  if (values['cached-tokens'] !== undefined) opts.cachedTokens = num('cached-tokens', values['cached-tokens']);
  if (values['cache-write-tokens'] !== undefined) opts.cacheWriteTokens = num('cache-write-tokens', values['cache-write-tokens']);
  if (values.fail !== undefined) opts.fail = values.fail;
  if (values['fail-count'] !== undefined) opts.failCount = num('fail-count', values['fail-count']);
  if (values['retry-after'] !== undefined) opts.retryAfter = num('retry-after', values['retry-after']);
  if (values['omit-usage']) opts.omitUsage = true;
  if (values['require-key'] !== undefined) opts.requireKey = values['require-key'];
  if (values['no-tool-call']) opts.toolCall = false;

  const mock = await startMockUpstream(opts);
  process.stdout.write(`mock upstream listening on ${mock.url}\n`);
  const stop = () => { mock.close().then(() => process.exit(0)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMain()) {
  main().catch((err) => {
    process.stderr.write(`mock upstream: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
}
