import { nativePath, OUT, scannedUsage, scannedValue, type Addon } from '../native/native-addon.js';
import { Kind, S, Status } from '../native/scan-slots.js';
import type { EndpointId } from './call.js';
import { usageFromBody, type ReportedUsage } from './usage-from-body.js';

// A whole (non-streamed) JSON answer: the provider's usage and model, and
// the parsed answer only when something needs all of it (a translation, our
// own count when the usage is missing or wrong). The native scanner
// validates the answer and finds its top-level "usage" and "model" (the
// last of each, as JSON.parse keeps) without building it; the usage object
// is parsed only when the scan could not read its counts (a count that is
// not a plain integer, an escaped or repeated key). Bytes are read as
// Buffer#toString reads them.

export interface JsonAnswer {
  /** The answer is JSON. */
  valid: boolean;
  reported: { usage?: ReportedUsage; model?: string };
  /** The parsed answer (undefined when it is not JSON). */
  json(): unknown;
}

function parseAll(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function readJsonAnswerJs(endpoint: EndpointId, bytes: Buffer): JsonAnswer {
  const json = parseAll(bytes);
  return { valid: json !== undefined, reported: usageFromBody(endpoint, json as Record<string, unknown> | undefined), json: () => json };
}

/** A scanned answer: the whole is parsed only if json() is called (a class: no closure per answer). */
class ScannedAnswer implements JsonAnswer {
  readonly valid = true;
  #json: unknown;
  #parsed = false;

  constructor(readonly reported: { usage?: ReportedUsage; model?: string }, private readonly bytes: Buffer) {}

  json(): unknown {
    if (!this.#parsed) {
      this.#json = parseAll(this.bytes);
      this.#parsed = true;
    }
    return this.#json;
  }
}

export function readJsonAnswerNative(endpoint: EndpointId, bytes: Buffer, addon: Addon): JsonAnswer {
  const status = addon.scanAnswer(bytes);
  if (status !== Status.OK) return { valid: false, reported: {}, json: () => undefined };
  // A valid answer that is not an object (rare): the JavaScript path reads it.
  if (bytes[OUT[S.OBJ_OPEN]!] !== 0x7b) return readJsonAnswerJs(endpoint, bytes);
  const top: { model?: unknown; usage?: unknown } = {};
  if (OUT[S.MODEL_KIND] === Kind.STRING) top.model = scannedString(bytes, OUT[S.MODEL_S]!, OUT[S.MODEL_E]!);
  if (OUT[S.USAGE_KIND] === Kind.OBJECT && OUT[S.USAGE_PLAIN] === 1) top.usage = scannedUsage();
  else if (OUT[S.USAGE_KIND] !== Kind.ABSENT) top.usage = scannedValue(bytes, S.USAGE_S);
  return new ScannedAnswer(usageFromBody(endpoint, top as Record<string, unknown>), bytes);
}

/**
 * The string whose JSON text (quotes included) the scan found at [start, end): without an
 * escape, its bytes between the quotes as Buffer#toString reads them, which is what JSON.parse
 * of that text gives (the scan validated it); else parsed.
 */
function scannedString(bytes: Buffer, start: number, end: number): string {
  for (let i = start + 1; i < end - 1; i++) if (bytes[i] === 0x5c) return JSON.parse(bytes.toString('utf8', start, end)) as string;
  return bytes.toString('utf8', start + 1, end - 1);
}

const native = nativePath.kind === 'native' ? nativePath.addon : undefined;

export const readJsonAnswer: (endpoint: EndpointId, bytes: Buffer) => JsonAnswer = native
  ? (endpoint, bytes) => readJsonAnswerNative(endpoint, bytes, native)
  : readJsonAnswerJs;
