import { anthropicImageTokens, audioTokens, fileTokens, FILE_REFERENCE_TOKENS, openaiImageTokens } from './media-tokens.js';
import { MAX_WORD, MAX_WORD_UNVERIFIED, textQuarterTokens as textQuarters } from './text-tokens.js';

// An upper bound of the prompt tokens a provider bills for a request body,
// for the pure, in-memory reservation. Everything the provider may put in
// front of the model counts: every string (messages, system, tools and
// their JSON schemas with their keys, tool_choice, response_format,
// instructions, input, prediction, ...), numbers as their digits,
// token-id arrays one token per id, media by their part's structure
// (media-tokens.ts), plus per-object overhead for the chat template.
// Fields that only steer the call (model, stream, sampling, caps) do not.

export class EstimateTooDeep extends Error {}

const MAX_DEPTH = 64;
const Q = 4;
/** Per object (a message, a content part, a tool): role and separator tokens of the chat templates (OpenAI: 3 per message). */
const OBJECT_OVERHEAD = 4 * Q;
/** Per request: the reply priming (OpenAI: 3) and the vendors' system preamble for tools. */
const REQUEST_OVERHEAD = 8;

// Top-level fields that are not sent to the model as input (also handed to the native scanner).
export const CONTROL: ReadonlySet<string> = new Set([
  'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'n', 'best_of',
  'temperature', 'top_p', 'top_k', 'frequency_penalty', 'presence_penalty', 'seed', 'logprobs', 'top_logprobs',
  'logit_bias', 'user', 'metadata', 'store', 'service_tier', 'parallel_tool_calls', 'encoding_format', 'dimensions',
  'echo', 'suffix_only', 'background', 'truncation', 'previous_response_id', 'include', 'modalities', 'audio',
  'reasoning_effort', 'verbosity', 'safety_identifier', 'prompt_cache_key', 'stop_sequences', 'stop', 'thinking',
  'container', 'mcp_servers', 'context_management', 'reasoning',
]);

// Set while walking a body that holds an OpenAI image, whose tokens depend on the model.
let modelDependent = false;

/** The bound, and whether it depends on the model (OpenAI images: another model may bill them differently). */
export function promptEstimate(model: string, body: Record<string, unknown>): { tokens: number; modelDependent: boolean } {
  modelDependent = false;
  const tokens = promptTokenBound(model, body);
  return { tokens, modelDependent };
}

// Longest single-token word for this body's model (see text-tokens.ts).
let maxWord = MAX_WORD;
const textQuarterTokens = (s: string) => textQuarters(s, maxWord);

/** Models whose tokenizer is o200k_base or cl100k_base, against which the word list is verified. */
export function openaiTokenizer(model: string): boolean {
  return /^(ft:)?(gpt-|o\d|chatgpt-|text-embedding-|codex|davinci|babbage)/.test(model.slice(model.lastIndexOf('/') + 1));
}

export function promptTokenBound(model: string, body: Record<string, unknown>): number {
  maxWord = openaiTokenizer(model) ? MAX_WORD : MAX_WORD_UNVERIFIED;
  let q = 0;
  for (const k in body) {
    if (CONTROL.has(k)) continue;
    const v = body[k];
    // Pre-tokenized input (embeddings, legacy completions): one token per id.
    if ((k === 'input' || k === 'prompt') && Array.isArray(v) && isTokenIds(v)) q += tokenIds(model, v);
    else q += walk(model, v, 0);
  }
  return Math.ceil(q / Q) + REQUEST_OVERHEAD;
}

function isTokenIds(v: unknown[]): boolean {
  const first = v[0];
  return typeof first === 'number' || (Array.isArray(first) && typeof first[0] === 'number');
}

/** Quarter tokens of a token-id array; anything but an id in it (a provider would refuse the mix) counts as usual. */
function tokenIds(model: string, v: unknown[]): number {
  let q = 0;
  for (const x of v) {
    if (typeof x === 'number') q += Q;
    else if (Array.isArray(x)) for (const y of x) q += typeof y === 'number' ? Q : walk(model, y, 2);
    else q += walk(model, x, 1);
  }
  return q;
}

// Structure is charged as if serialised as JSON (how tool schemas and
// arguments reach the model): a token for a string's quotes, a key's colon,
// an array's brackets and separators, a literal.
function walk(model: string, v: unknown, depth: number): number {
  if (depth > MAX_DEPTH) throw new EstimateTooDeep(`request body nests deeper than ${MAX_DEPTH} levels`);
  if (typeof v === 'string') return textQuarterTokens(v) + Q;
  if (typeof v === 'number') return numberQuarters(v) + Q;
  if (Array.isArray(v)) {
    let q = Q;
    for (let i = 0; i < v.length; i++) q += walk(model, v[i], depth + 1);
    return q;
  }
  if (!v || typeof v !== 'object') return Q; // true, false, null
  const o = v as Record<string, unknown>;
  const media = mediaTokens(model, o);
  if (media !== undefined) return media * Q + OBJECT_OVERHEAD;
  let q = OBJECT_OVERHEAD;
  for (const k in o) q += textQuarterTokens(k) + Q + walk(model, o[k], depth + 1);
  return q;
}

function numberQuarters(n: number): number {
  // Digits in groups of three, a sign and a decimal point: at most the characters of the number.
  return Math.max(1, String(n).length) * Q;
}

/** Tokens of a media content part, by its type; undefined when `o` is not one. */
function mediaTokens(model: string, o: Record<string, any>): number | undefined {
  switch (o.type) {
    case 'image_url': {
      modelDependent = true;
      // OpenAI chat: { image_url: { url, detail } } (or a bare string)
      const iu = o.image_url;
      const url = typeof iu === 'string' ? iu : iu?.url;
      return openaiImageTokens(model, url, iu?.detail) + textLen(typeof iu === 'string' || url?.startsWith?.('data:') ? '' : url);
    }
    case 'input_image':
      modelDependent = true;
      // Responses: { image_url, file_id, detail }
      return openaiImageTokens(model, o.image_url, o.detail) + textLen(typeof o.image_url === 'string' && o.image_url.startsWith('data:') ? '' : o.image_url);
    case 'image':
      // Anthropic: { source: { type: base64 | url | file, ... } }
      if (o.source && typeof o.source === 'object') return anthropicImageTokens(o.source) + textLen(o.source.url);
      return undefined;
    case 'input_audio':
      // OpenAI chat: { input_audio: { data, format } }
      return audioTokens(o.input_audio?.data);
    case 'file': {
      // OpenAI chat: { file: { file_data, file_id, filename } }
      const f = o.file ?? {};
      return typeof f.file_data === 'string' ? fileTokens(f.file_data) + textLen(f.filename) : FILE_REFERENCE_TOKENS;
    }
    case 'input_file':
      // Responses: { file_data, file_id, file_url, filename }
      return typeof o.file_data === 'string' ? fileTokens(o.file_data) + textLen(o.filename) : FILE_REFERENCE_TOKENS;
    case 'document': {
      // Anthropic: { source: { type: base64 (PDF) | text | content | url | file }, title, context }
      const s = o.source;
      if (!s || typeof s !== 'object') return undefined;
      const extra = textLen(o.title) + textLen(o.context);
      if (s.type === 'base64' && typeof s.data === 'string') return fileTokens(s.data) + extra;
      if (s.type === 'text' || s.type === 'content') return undefined; // plain text: walked as text
      return FILE_REFERENCE_TOKENS + extra;
    }
    default:
      return undefined;
  }
}

function textLen(s: unknown): number {
  return typeof s === 'string' ? Math.ceil(textQuarterTokens(s) / Q) : 0;
}
