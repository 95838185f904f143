import { createRequire } from 'node:module';
import { CONTROL } from '../protocols/estimate/prompt-estimate.js';
import { wordTable } from '../protocols/estimate/text-tokens.js';
import { S } from './scan-slots.js';

// Loads native/ (the request-body scanner, built by `npm install`), or says
// why the pure-JavaScript path serves instead. TOLLGATE_NATIVE=0 forces the
// JavaScript path; TOLLGATE_NATIVE=1 makes a missing addon an error.

export interface Addon {
  /** Fills OUT; returns the body's model when it is a string. */
  scanRequest(body: Uint8Array): string | undefined;
  /** Fills OUT; returns the status. With `from` and `to`, scans body[from, to) (offsets in OUT from `from`). */
  scanAnswer(body: Uint8Array, from?: number, to?: number): number;
  /** Describes the whole SSE events of events[from..] in `out` (5 slots each: native/src/sse_scan.h); returns how many. */
  scanSse(events: Uint8Array, from: number, endpoint: number, out: Int32Array): number;
}

export type NativePath = { kind: 'native'; addon: Addon; file: string } | { kind: 'js'; reason: string };

/** The scanner's results (slots: scan-slots.ts), shared with the addon. */
export const OUT = new Float64Array(S.COUNT);

/** The JSON value whose span a scan left at OUT[slot], OUT[slot + 1], parsed (`from`: where the scanned range began in `bytes`). */
export function scannedValue(bytes: Buffer, slot: number, from = 0): unknown {
  return JSON.parse(bytes.toString('utf8', from + OUT[slot]!, from + OUT[slot + 1]!));
}

const count = (slot: number): number | undefined => (OUT[slot]! < 0 ? undefined : OUT[slot]);

/** The thread's one usage object, refilled by each scannedUsage (its readers copy the counts out at once). */
const USAGE = {
  prompt_tokens: undefined as number | undefined,
  completion_tokens: undefined as number | undefined,
  input_tokens: undefined as number | undefined,
  output_tokens: undefined as number | undefined,
  cache_read_input_tokens: undefined as number | undefined,
  cache_creation_input_tokens: undefined as number | undefined,
  prompt_tokens_details: { cached_tokens: undefined as number | undefined },
  input_tokens_details: { cached_tokens: undefined as number | undefined },
  cache_creation: { ephemeral_1h_input_tokens: undefined as number | undefined },
};

/**
 * The usage object a scan read, when its counts were plain (OUT[S.USAGE_PLAIN]): the
 * keys usage-from-body.ts reads, with the values JSON.parse would give them (an absent
 * count or detail object reads the same as an undefined one there). No string and no
 * parse (JSON.parse of a small answer's usage cost ~2 us), and no object made: the
 * thread's one object is refilled, valid until the next scan's (usage-from-body.ts
 * copies the counts out before anything else runs).
 */
export function scannedUsage(): Record<string, unknown> {
  const u = USAGE;
  u.prompt_tokens = count(S.U_PROMPT);
  u.completion_tokens = count(S.U_COMPLETION);
  u.input_tokens = count(S.U_INPUT);
  u.output_tokens = count(S.U_OUTPUT);
  u.cache_read_input_tokens = count(S.U_CACHE_READ);
  u.cache_creation_input_tokens = count(S.U_CACHE_CREATION);
  u.prompt_tokens_details.cached_tokens = count(S.U_PROMPT_CACHED);
  u.input_tokens_details.cached_tokens = count(S.U_INPUT_CACHED);
  u.cache_creation.ephemeral_1h_input_tokens = count(S.U_CACHE_1H);
  return u;
}

const ADDON_FILE = '../../native/build/Release/tollgate_native.node';

/** The addon interface this build calls (INTERFACE_VERSION in native/src/addon.cc; bump both together). */
export const ADDON_VERSION = 6;

function load(): NativePath {
  const want = process.env.TOLLGATE_NATIVE;
  if (want === '0') return { kind: 'js', reason: 'TOLLGATE_NATIVE=0' };
  const require = createRequire(import.meta.url);
  try {
    const file = require.resolve(ADDON_FILE);
    const addon = require(file) as Addon & { load(...a: unknown[]): number; version?: number };
    if (addon.version !== ADDON_VERSION) {
      throw new Error(`the addon was built from other sources (interface ${addon.version ?? 1}, this build calls ${ADDON_VERSION}): rebuild it (npm run build:native)`);
    }
    const { words, forms, bigrams } = wordTable();
    const count = addon.load(words, forms, bigrams, [...CONTROL], OUT);
    if (count !== S.COUNT) throw new Error(`the addon has ${count} result slots, this build expects ${S.COUNT}: rebuild it (npm run build:native)`);
    return { kind: 'native', addon, file };
  } catch (err) {
    if (want === '1') throw new Error(`TOLLGATE_NATIVE=1 but the native addon did not load: ${(err as Error).message}`);
    return { kind: 'js', reason: (err as Error).message.split('\n')[0]! };
  }
}

export const nativePath: NativePath = load();

/** One line for the startup log: which path scans request bodies. */
export function nativeStatusLine(): string {
  return nativePath.kind === 'native'
    ? `tollgate: request bodies are scanned by the native addon (${nativePath.file})`
    : `\n*** tollgate: WARNING: the native addon is not in use (${nativePath.reason}); request bodies are scanned by the ` +
        'slower pure-JavaScript path. Build it with `npm run build:native`. ***\n';
}
