import { BadRequest, type ParsedCall } from '../call.js';
import { audioDuration, type AudioFormat } from './audio-duration.js';
import { FormError, formBoundary, formParts, type FormPart } from './multipart-form.js';

// The endpoints billed per unit rather than per token: image generation (per
// image, by size and quality), speech (per input character) and audio
// transcription / translation (per second of the uploaded audio). What they
// reserve is known, or measured, before the call is forwarded. PURE.

export type MediaEndpoint = 'images' | 'speech' | 'transcriptions' | 'translations';

export type MediaRequest =
  | { kind: 'images'; n: number; size: string; quality: string; /** UTF-8 bytes of the prompt: an upper bound of its tokens. */ promptBytes: number }
  | { kind: 'speech'; characters: number }
  | {
    kind: 'audio';
    /** Measured from the file's container; undefined when it could not be (then the provider must report it). */
    seconds: number | undefined;
    format: AudioFormat | undefined;
    /** Why the duration could not be measured. */
    unmeasured?: string;
    fileBytes: number;
    /** The answer will state the duration (response_format verbose_json). */
    reportsDuration: boolean;
  };

export class MediaBadRequest extends Error {}

/** OpenAI's own limits. */
const MAX_IMAGES = 10;
const MAX_SPEECH_CHARS = 4096;

/** Characters as Unicode code points (what a person counts; a UTF-16 surrogate pair is one). */
export const codePoints = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
    else {
      const d = s.charCodeAt(i + 1);
      n++;
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
};

export function imagesRequest(body: Record<string, unknown>, model: string): MediaRequest {
  if (typeof body.prompt !== 'string' || !body.prompt) throw new MediaBadRequest('"prompt" is required and must be a non-empty string');
  const n = body.n ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_IMAGES) throw new MediaBadRequest(`"n" must be an integer from 1 to ${MAX_IMAGES}`);
  // DALL·E's documented defaults; the GPT image models choose for themselves ('auto').
  const dalle = model.startsWith('dall-e');
  const size = text(body, 'size') ?? (dalle ? '1024x1024' : 'auto');
  const quality = text(body, 'quality') ?? (dalle ? 'standard' : 'auto');
  if (size !== 'auto' && !/^\d{2,5}x\d{2,5}$/.test(size)) throw new MediaBadRequest('"size" must be WIDTHxHEIGHT (e.g. 1024x1024) or auto');
  if (!/^[a-z]{1,16}$/.test(quality)) throw new MediaBadRequest('"quality" must be a word such as standard, hd, low, medium, high or auto');
  return { kind: 'images', n, size, quality, promptBytes: Buffer.byteLength(body.prompt, 'utf8') };
}

export function speechRequest(body: Record<string, unknown>): MediaRequest {
  if (typeof body.input !== 'string' || !body.input) throw new MediaBadRequest('"input" is required and must be a non-empty string');
  const characters = codePoints(body.input);
  if (characters > MAX_SPEECH_CHARS) throw new MediaBadRequest(`"input" is longer than ${MAX_SPEECH_CHARS} characters`);
  return { kind: 'speech', characters };
}

function text(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new MediaBadRequest(`"${field}" must be a string`);
  return v;
}

/** An audio upload: its form fields, the measured duration, and where `model` sits (to rewrite it for another model). */
export interface AudioForm {
  media: MediaRequest & { kind: 'audio' };
  fields: Record<string, string>;
  modelPart: FormPart;
  contentType: string;
}

export function audioForm(raw: Buffer, contentType: string): AudioForm {
  const boundary = formBoundary(contentType);
  if (!boundary) throw new MediaBadRequest('the body must be multipart/form-data with a boundary (content-type: multipart/form-data; boundary=...)');
  let parts: FormPart[];
  try {
    parts = formParts(raw, boundary);
  } catch (err) {
    if (err instanceof FormError) throw new MediaBadRequest(err.message);
    throw err;
  }
  const fields: Record<string, string> = {};
  let file: FormPart | undefined;
  let modelPart: FormPart | undefined;
  // Fields priced or measured here must mean the same to the provider: one each, plain text.
  const once = new Set<string>();
  for (const p of parts) {
    if (p.name === 'file' || p.name === 'model' || p.name === 'response_format') {
      if (once.has(p.name)) throw new MediaBadRequest(`the form has more than one "${p.name}" part`);
      once.add(p.name);
      if (p.name !== 'file' && p.filename !== undefined) throw new MediaBadRequest(`"${p.name}" must be a plain form field, not a file`);
    }
    if (p.name === 'file') {
      file = p;
    } else if (p.filename === undefined && p.end - p.start <= 4096) {
      fields[p.name] = raw.toString('utf8', p.start, p.end);
      if (p.name === 'model') modelPart = p;
    }
  }
  if (!file) throw new MediaBadRequest('the form has no "file" part (the audio to transcribe)');
  if (!modelPart || !fields.model) throw new MediaBadRequest('the form has no "model" field');
  if (fields.stream === 'true') throw new MediaBadRequest('streamed transcriptions are not supported through Tollgate; send stream=false');
  const measured = audioDuration(raw.subarray(file.start, file.end));
  const media: AudioForm['media'] = {
    kind: 'audio',
    seconds: measured.ok ? measured.seconds : undefined,
    format: measured.ok ? measured.format : undefined,
    fileBytes: file.end - file.start,
    reportsDuration: fields.response_format === 'verbose_json',
  };
  if (!measured.ok) media.unmeasured = measured.problem;
  return { media, fields, modelPart, contentType };
}

/** The form with `model` replaced (the rest byte for byte as the client sent it). */
export function formWithModel(raw: Buffer, form: AudioForm, model: string): Buffer {
  if (form.fields.model === model) return raw;
  return Buffer.concat([raw.subarray(0, form.modelPart.start), Buffer.from(model, 'utf8'), raw.subarray(form.modelPart.end)]);
}

/** The call as the decision and the ledger see it; refusals are BadRequest with a message for the client. */
export function parseMediaCall(endpoint: MediaEndpoint, raw: Buffer, contentType: string, json: () => unknown): ParsedCall {
  try {
    if (endpoint === 'transcriptions' || endpoint === 'translations') {
      const form = audioForm(raw, contentType);
      const model = form.fields.model!;
      if (model.length > 256) throw new MediaBadRequest('"model" is longer than 256 characters');
      return mediaCall(endpoint, model, { model }, form.media, (m) => ({ body: formWithModel(raw, form, m), contentType }));
    }
    const body = json();
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new MediaBadRequest('request body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (typeof b.model !== 'string' || !b.model) throw new MediaBadRequest('"model" is required and must be a non-empty string');
    if (b.model.length > 256) throw new MediaBadRequest('"model" is longer than 256 characters');
    if (b.stream !== undefined && b.stream !== false) throw new MediaBadRequest('streamed answers are not supported through Tollgate on this endpoint; send stream: false');
    if (endpoint === 'speech' && b.stream_format !== undefined && b.stream_format !== 'audio') throw new MediaBadRequest('"stream_format" must be "audio" through Tollgate');
    const media = endpoint === 'images' ? imagesRequest(b, b.model) : speechRequest(b);
    return mediaCall(endpoint, b.model, b, media, undefined);
  } catch (err) {
    if (err instanceof MediaBadRequest) throw new BadRequest(err.message);
    throw err;
  }
}

function mediaCall(endpoint: MediaEndpoint, model: string, body: Record<string, unknown>, media: MediaRequest, upstreamPayload: ParsedCall['upstreamPayload']): ParsedCall {
  return {
    endpoint,
    protocol: 'openai',
    model,
    stream: false,
    maxOutputTokens: undefined,
    promptTokensEstimate: 0,
    choices: 1,
    promptTokensFor: () => 0,
    predictionTokens: 0,
    storedContext: undefined,
    cacheWrite: undefined,
    wantsStreamUsage: false,
    body,
    media,
    ...(upstreamPayload ? { upstreamPayload } : {}),
  };
}
