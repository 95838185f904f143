import { InvalidUtf8, utf8Text } from '../http/utf8-body.js';
import { nativePath, OUT } from '../native/native-addon.js';
import { CAP_FIELDS, Flag, Kind, S, Status } from '../native/scan-slots.js';
import { bodyLayout, type BodyLayout, type Span } from './body-layout.js';
import { BadRequest, callFields, ENDPOINTS, parseCall, type EndpointId, type ParsedCall, type Protocol } from './call.js';
import { cacheWriteTtl, type CacheWriteTtl } from './estimate/cache-writes.js';
import { EstimateTooDeep, openaiTokenizer, promptEstimate, promptTokenBound } from './estimate/prompt-estimate.js';

// The one way a JSON model-call body becomes a ParsedCall: the native
// scanner (native/) when it loaded, else JavaScript. Both refuse the same
// bodies with the same messages, read the same fields, estimate the same
// prompt tokens and give the same layout for splicing the upstream body
// (test/native/). On the native path the body object is parsed only when
// something asks for it (a translation, a body with media parts, our own
// count when the provider reports no usage).

export type TokenEndpoint = Exclude<EndpointId, 'images' | 'speech' | 'transcriptions' | 'translations'>;

/** The body parsed by JSON.parse, or BadRequest with the JavaScript path's message. */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(utf8Text(raw));
  } catch (err) {
    if (err instanceof InvalidUtf8) throw new BadRequest(err.message);
    throw new BadRequest(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The JavaScript path. */
export function readRequestJs(endpoint: TokenEndpoint, raw: Buffer): ParsedCall {
  const json = parseJsonBody(raw);
  const layout = json && typeof json === 'object' && !Array.isArray(json) ? bodyLayout(raw, json as Record<string, unknown>) : undefined;
  const call = parseCall(endpoint, json);
  call.layout = layout;
  return call;
}

let disagreements = 0;
/** How often the native scanner refused a body the JavaScript path accepts (tests expect 0). */
export const scanDisagreements = () => disagreements;

/** The native path; refusals take the JavaScript path's message. */
export function readRequestNative(endpoint: TokenEndpoint, raw: Buffer, scan: (b: Buffer) => string | undefined): ParsedCall {
  const model = scan(raw);
  const o = OUT;
  if (o[S.STATUS] !== Status.OK) {
    const status = o[S.STATUS];
    const at = o[S.ERROR_AT];
    const call = readRequestJs(endpoint, raw); // throws the refusal
    // Reached only when the scanners disagree: the JavaScript path is the reference.
    if (disagreements++ < 10) process.emitWarning(`native scanner refused a body (status ${status} at byte ${at}) that the JavaScript path accepts`);
    return call;
  }
  return fromScan(endpoint, raw, model, o);
}

// Values of the JSON kind the scanner saw, for callFields' checks (which read
// only the kind, and numbers): shared, as nothing writes into them.
const AN_ARRAY: readonly unknown[] = Object.freeze([]);
const AN_OBJECT: Readonly<Record<string, unknown>> = Object.freeze({});

/** A value of the JSON kind the scanner saw, for callFields' checks (which read only the kind, and numbers). */
function asKind(kind: number, value?: number): unknown {
  switch (kind) {
    case Kind.ABSENT: return undefined;
    case Kind.NULL: return null;
    case Kind.FALSE: return false;
    case Kind.TRUE: return true;
    case Kind.NUMBER: return value ?? 0;
    case Kind.STRING: return '';
    case Kind.ARRAY: return AN_ARRAY;
    default: return AN_OBJECT;
  }
}

const span = (o: Float64Array, s: number): Span => [o[s]!, o[s + 1]!];
const bound = (q: number) => Math.ceil(q / 4) + 8; // prompt-estimate.ts: quarters to tokens, plus REQUEST_OVERHEAD

/**
 * A call read by the native scanner: its body object is parsed only when
 * something asks for `body`. A class, not an object literal given a getter:
 * V8 keeps a literal with an accessor (or one redefined to have one) in
 * dictionary mode, and this object's fields are read all along the call.
 * `body` is on the prototype, so a spread of the call does not copy it
 * (withStoredContext in model-call.ts names it).
 */
class ScannedCall implements ParsedCall {
  readonly protocol: Protocol;
  promptTokensEstimate = 0;
  promptTokensFor: (model: string) => number = () => 0;
  predictionTokens = 0;
  cacheWrite: CacheWriteTtl | undefined = undefined;
  #body: Record<string, unknown> | undefined = undefined;
  readonly #raw: Buffer;

  constructor(
    readonly endpoint: EndpointId,
    raw: Buffer,
    readonly model: string,
    readonly stream: boolean,
    readonly maxOutputTokens: number | undefined,
    readonly choices: number,
    readonly wantsStreamUsage: boolean,
    readonly storedContext: string | undefined,
    readonly layout: BodyLayout,
  ) {
    this.protocol = ENDPOINTS[endpoint].protocol;
    this.#raw = raw;
  }

  get body(): Record<string, unknown> {
    return (this.#body ??= JSON.parse(utf8Text(this.#raw)) as Record<string, unknown>);
  }
}

function fromScan(endpoint: TokenEndpoint, raw: Buffer, model: string | undefined, o: Float64Array): ParsedCall {
  const top: Record<string, unknown> = {
    model: model ?? asKind(o[S.MODEL_KIND]!),
    stream: asKind(o[S.STREAM_KIND]!),
    n: asKind(o[S.N_KIND]!, o[S.N_VAL]),
    best_of: asKind(o[S.BEST_OF_KIND]!, o[S.BEST_OF_VAL]),
    messages: asKind(o[S.MESSAGES_KIND]!),
    input: asKind(o[S.INPUT_KIND]!),
    stream_options: asKind(o[S.SO_KIND]!),
  };
  const members = new Map<string, Span>();
  members.set('model', span(o, S.MODEL_S));
  for (let i = 0; i < CAP_FIELDS.length; i++) {
    const f = CAP_FIELDS[i]!;
    const k = S.CAP0_KIND + 4 * i;
    top[f] = asKind(o[k]!, o[k + 1]);
    if (o[k] !== Kind.ABSENT) members.set(f, span(o, k + 2));
  }
  const fields = callFields(endpoint, top);
  const layout: BodyLayout = { raw, open: o[S.OBJ_OPEN]!, members };
  if (o[S.SO_KIND] !== Kind.ABSENT) members.set('stream_options', span(o, S.SO_S));
  if (o[S.SO_KIND] === Kind.OBJECT) {
    const inner = new Map<string, Span>();
    if (o[S.IU_KIND] !== Kind.ABSENT) inner.set('include_usage', span(o, S.IU_S));
    layout.streamOptions = { members: inner, count: o[S.SO_KEYS]! };
  }

  const call = new ScannedCall(endpoint, raw, fields.model, fields.stream, fields.maxOutputTokens, fields.choices,
    o[S.SO_KIND] === Kind.OBJECT && o[S.IU_KIND] === Kind.TRUE, storedContext(raw, o), layout);
  const flags = o[S.FLAGS]!;
  const verified = openaiTokenizer(fields.model);
  const predicted = o[S.PRED_KIND] === Kind.OBJECT || o[S.PRED_KIND] === Kind.ARRAY;
  if (flags & Flag.MEDIA) {
    // Media parts: their bound reads their payloads (estimate/media-tokens.ts), in JavaScript.
    let estimate: { tokens: number; modelDependent: boolean };
    try {
      estimate = promptEstimate(fields.model, call.body);
    } catch (err) {
      if (err instanceof EstimateTooDeep) throw new BadRequest(err.message);
      throw err;
    }
    const promptTokensEstimate = (call.promptTokensEstimate = estimate.tokens);
    call.promptTokensFor = (m) => (m !== fields.model && (estimate.modelDependent || openaiTokenizer(m) !== verified) ? promptTokenBound(m, call.body) : promptTokensEstimate);
    if (predicted) call.predictionTokens = promptTokenBound(fields.model, { prediction: call.body.prediction });
  } else {
    const qv = o[S.Q_VERIFIED]!, qu = o[S.Q_UNVERIFIED]!;
    const promptTokensEstimate = (call.promptTokensEstimate = bound(verified ? qv : qu));
    call.promptTokensFor = (m) => (m !== fields.model && openaiTokenizer(m) !== verified ? bound(verified ? qu : qv) : promptTokensEstimate);
    if (predicted) call.predictionTokens = bound(verified ? o[S.PRED_Q_VERIFIED]! : o[S.PRED_Q_UNVERIFIED]!);
  }
  if (flags & Flag.CACHE_CONTROL) call.cacheWrite = cacheWriteTtl(call.body);
  return call;
}

/** estimate/stored-context.ts from the scan: the same fields in the same order. */
function storedContext(raw: Buffer, o: Float64Array): string | undefined {
  const present = (k: number) => k !== Kind.ABSENT && k !== Kind.NULL;
  if (present(o[S.PREV_KIND]!)) return 'previous_response_id';
  if (present(o[S.CONV_KIND]!)) return 'conversation';
  if (o[S.PROMPT_KIND] === Kind.OBJECT) return 'prompt';
  if (o[S.MCP_KIND] === Kind.ARRAY && o[S.MCP_NONEMPTY]) return 'mcp_servers';
  if (o[S.TOOL_TYPE_S]! >= 0) return `tools[].type ${JSON.parse(raw.toString('utf8', o[S.TOOL_TYPE_S], o[S.TOOL_TYPE_E])) as string}`;
  return undefined;
}

const native = nativePath.kind === 'native' ? nativePath.addon : undefined;

/** Reads a model call's JSON body; throws BadRequest (a 400 naming the problem). */
export const readRequest: (endpoint: TokenEndpoint, raw: Buffer) => ParsedCall = native
  ? (endpoint, raw) => readRequestNative(endpoint, raw, (b) => native.scanRequest(b))
  : readRequestJs;
