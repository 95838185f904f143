import { InvalidUtf8, utf8Text } from '../http/utf8-body.js';
import { nativePath, OUT } from '../native/native-addon.js';
import { CAP_FIELDS, Flag, Kind, S, Status } from '../native/scan-slots.js';
import { bodyLayout, type BodyLayout, type Span, type SpanLookup } from './body-layout.js';
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

const bound = (q: number) => Math.ceil(q / 4) + 8; // prompt-estimate.ts: quarters to tokens, plus REQUEST_OVERHEAD

/**
 * The top-level fields callFields checks, as the scan saw them. One per
 * thread, refilled by each scan (callFields keeps nothing of it): an object
 * and its properties per call, for checks that only read them.
 */
class ScanTop {
  model: unknown = undefined;
  stream: unknown = undefined;
  n: unknown = undefined;
  best_of: unknown = undefined;
  messages: unknown = undefined;
  input: unknown = undefined;
  stream_options: unknown = undefined;
  max_tokens: unknown = undefined;
  max_completion_tokens: unknown = undefined;
  max_output_tokens: unknown = undefined;
}
const TOP = new ScanTop();

/**
 * Where the spliced values lie, copied from the scan's slots (the next scan
 * overwrites them): plain numbers, -1 where the key is absent. A Span is
 * made only when splicing asks for one, which a call forwarded as it came
 * never does (no Map and no pair per member per call).
 */
class ScannedLayout implements BodyLayout, SpanLookup {
  readonly open: number;
  readonly members: SpanLookup = this;
  streamOptions: { members: SpanLookup; count: number } | undefined = undefined;
  readonly #modelS: number; readonly #modelE: number;
  readonly #cap0S: number; readonly #cap0E: number;
  readonly #cap1S: number; readonly #cap1E: number;
  readonly #cap2S: number; readonly #cap2E: number;
  readonly #soS: number; readonly #soE: number;

  constructor(readonly raw: Buffer, o: Float64Array) {
    this.open = o[S.OBJ_OPEN]!;
    this.#modelS = o[S.MODEL_S]!;
    this.#modelE = o[S.MODEL_E]!;
    const k = S.CAP0_KIND;
    this.#cap0S = o[k] === Kind.ABSENT ? -1 : o[k + 2]!;
    this.#cap0E = o[k + 3]!;
    this.#cap1S = o[k + 4] === Kind.ABSENT ? -1 : o[k + 6]!;
    this.#cap1E = o[k + 7]!;
    this.#cap2S = o[k + 8] === Kind.ABSENT ? -1 : o[k + 10]!;
    this.#cap2E = o[k + 11]!;
    this.#soS = o[S.SO_KIND] === Kind.ABSENT ? -1 : o[S.SO_S]!;
    this.#soE = o[S.SO_E]!;
    if (o[S.SO_KIND] === Kind.OBJECT) this.streamOptions = { members: new IncludeUsage(o[S.IU_KIND] === Kind.ABSENT ? -1 : o[S.IU_S]!, o[S.IU_E]!), count: o[S.SO_KEYS]! };
  }

  get(key: string): Span | undefined {
    switch (key) {
      case 'model': return [this.#modelS, this.#modelE];
      case 'max_tokens': return this.#cap0S < 0 ? undefined : [this.#cap0S, this.#cap0E];
      case 'max_completion_tokens': return this.#cap1S < 0 ? undefined : [this.#cap1S, this.#cap1E];
      case 'max_output_tokens': return this.#cap2S < 0 ? undefined : [this.#cap2S, this.#cap2E];
      case 'stream_options': return this.#soS < 0 ? undefined : [this.#soS, this.#soE];
      default: return undefined;
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *[Symbol.iterator](): Iterator<[string, Span]> {
    for (const key of SPANNED) {
      const at = this.get(key);
      if (at) yield [key, at];
    }
  }
}
const SPANNED = ['model', ...CAP_FIELDS, 'stream_options'] as const;

/** stream_options' one member splicing reads. */
class IncludeUsage implements SpanLookup {
  constructor(readonly start: number, readonly end: number) {}

  get(key: string): Span | undefined {
    return key === 'include_usage' && this.start >= 0 ? [this.start, this.end] : undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *[Symbol.iterator](): Iterator<[string, Span]> {
    if (this.start >= 0) yield ['include_usage', [this.start, this.end]];
  }
}

/**
 * A call read by the native scanner: its body object is parsed only when
 * something asks for `body`. A class, not an object literal given a getter:
 * V8 keeps a literal with an accessor (or one redefined to have one) in
 * dictionary mode, and this object's fields are read all along the call.
 * `body` and `promptTokensFor` are on the prototype, so a spread of the call
 * does not copy them (withStoredContext in model-call.ts names both).
 */
class ScannedCall implements ParsedCall {
  readonly protocol: Protocol;
  promptTokensEstimate = 0;
  predictionTokens = 0;
  cacheWrite: CacheWriteTtl | undefined = undefined;
  #body: Record<string, unknown> | undefined = undefined;
  readonly #raw: Buffer;
  /** The model's tokenizer is OpenAI's (the estimate the scan verified). */
  #verified = false;
  /** The bound for a model of the other tokenizer kind; -1: the body has media, whose bound reads the body. */
  #otherBound = 0;
  /** Media parts whose bound depends on the model. */
  #modelDependent = false;

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

  /** A method, not a closure per call: the same answers as parseCall's promptTokensFor. */
  promptTokensFor(m: string): number {
    if (m === this.model) return this.promptTokensEstimate;
    if (this.#otherBound < 0) return this.#modelDependent || openaiTokenizer(m) !== this.#verified ? promptTokenBound(m, this.body) : this.promptTokensEstimate;
    return openaiTokenizer(m) !== this.#verified ? this.#otherBound : this.promptTokensEstimate;
  }

  /** The estimate from the scan's quarters (no media part). */
  estimated(quarters: number, otherQuarters: number, verified: boolean): void {
    this.#verified = verified;
    this.promptTokensEstimate = bound(quarters);
    this.#otherBound = bound(otherQuarters);
  }

  /** The estimate of a body with media parts (read in JavaScript). */
  estimatedMedia(estimate: { tokens: number; modelDependent: boolean }, verified: boolean): void {
    this.#verified = verified;
    this.promptTokensEstimate = estimate.tokens;
    this.#otherBound = -1;
    this.#modelDependent = estimate.modelDependent;
  }
}

function fromScan(endpoint: TokenEndpoint, raw: Buffer, model: string | undefined, o: Float64Array): ParsedCall {
  const top = TOP;
  top.model = model ?? asKind(o[S.MODEL_KIND]!);
  top.stream = asKind(o[S.STREAM_KIND]!);
  top.n = asKind(o[S.N_KIND]!, o[S.N_VAL]);
  top.best_of = asKind(o[S.BEST_OF_KIND]!, o[S.BEST_OF_VAL]);
  top.messages = asKind(o[S.MESSAGES_KIND]!);
  top.input = asKind(o[S.INPUT_KIND]!);
  top.stream_options = asKind(o[S.SO_KIND]!);
  const k = S.CAP0_KIND;
  top.max_tokens = asKind(o[k]!, o[k + 1]);
  top.max_completion_tokens = asKind(o[k + 4]!, o[k + 5]);
  top.max_output_tokens = asKind(o[k + 8]!, o[k + 9]);
  const fields = callFields(endpoint, top as unknown as Record<string, unknown>);
  top.model = undefined; // not kept alive by the thread's object until the next call

  const call = new ScannedCall(endpoint, raw, fields.model, fields.stream, fields.maxOutputTokens, fields.choices,
    o[S.SO_KIND] === Kind.OBJECT && o[S.IU_KIND] === Kind.TRUE, storedContext(raw, o), new ScannedLayout(raw, o));
  const flags = o[S.FLAGS]!;
  const verified = openaiTokenizer(fields.model);
  const predicted = o[S.PRED_KIND] === Kind.OBJECT || o[S.PRED_KIND] === Kind.ARRAY;
  if (flags & Flag.MEDIA) {
    // Media parts: their bound reads their payloads (estimate/media-tokens.ts), in JavaScript.
    try {
      call.estimatedMedia(promptEstimate(fields.model, call.body), verified);
    } catch (err) {
      if (err instanceof EstimateTooDeep) throw new BadRequest(err.message);
      throw err;
    }
    if (predicted) call.predictionTokens = promptTokenBound(fields.model, { prediction: call.body.prediction });
  } else {
    const qv = o[S.Q_VERIFIED]!, qu = o[S.Q_UNVERIFIED]!;
    call.estimated(verified ? qv : qu, verified ? qu : qv, verified);
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
