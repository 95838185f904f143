import { nativePath, OUT, type Addon } from '../native/native-addon.js';
import { Kind, S, Status } from '../native/scan-slots.js';
import type { EndpointId } from './call.js';
import { usageFromBody, type ReportedUsage } from './usage-from-body.js';

// A whole (non-streamed) JSON answer: the provider's usage and model, and
// the parsed answer only when something needs all of it (a translation, our
// own count when the usage is missing or wrong). The native scanner
// validates the answer and finds its top-level "usage" and "model" (the
// last of each, as JSON.parse keeps) without building it; only the usage
// object is parsed. Bytes are read as Buffer#toString reads them.

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

export function readJsonAnswerNative(endpoint: EndpointId, bytes: Buffer, addon: Addon): JsonAnswer {
  const status = addon.scanAnswer(bytes);
  if (status !== Status.OK) return { valid: false, reported: {}, json: () => undefined };
  // A valid answer that is not an object (rare): the JavaScript path reads it.
  if (bytes[OUT[S.OBJ_OPEN]!] !== 0x7b) return readJsonAnswerJs(endpoint, bytes);
  const slice = (s: number) => JSON.parse(bytes.toString('utf8', OUT[s], OUT[s + 1])) as unknown;
  const top: Record<string, unknown> = {};
  if (OUT[S.MODEL_KIND] === Kind.STRING) top.model = slice(S.MODEL_S);
  if (OUT[S.USAGE_KIND] !== Kind.ABSENT) top.usage = slice(S.USAGE_S);
  let json: unknown;
  return { valid: true, reported: usageFromBody(endpoint, top), json: () => (json ??= parseAll(bytes)) };
}

const native = nativePath.kind === 'native' ? nativePath.addon : undefined;

export const readJsonAnswer: (endpoint: EndpointId, bytes: Buffer) => JsonAnswer = native
  ? (endpoint, bytes) => readJsonAnswerNative(endpoint, bytes, native)
  : readJsonAnswerJs;
