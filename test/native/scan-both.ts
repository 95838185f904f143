import { nativePath } from '../../src/native/native-addon.js';
import { upstreamBody, type ParsedCall } from '../../src/protocols/call.js';
import { readRequestJs, readRequestNative, type TokenEndpoint } from '../../src/protocols/read-request.js';

// Both request paths side by side, for the comparison tests: what a body
// becomes on each (the refusal, or every field Tollgate reads and the bodies
// it would send upstream).

export const addon = nativePath.kind === 'native' ? nativePath.addon : undefined;
/** Under CI the addon must have been built: a missing one fails instead of skipping. */
export const requireNative = process.env.CI === 'true' || process.env.TOLLGATE_NATIVE === '1';

export type Path = 'js' | 'native';
export const PATHS: Path[] = addon || requireNative ? ['js', 'native'] : ['js'];

export function read(path: Path, endpoint: TokenEndpoint, raw: Buffer): ParsedCall {
  if (path === 'js') return readRequestJs(endpoint, raw);
  if (!addon) throw new Error('the native addon did not load: npm run build:native');
  return readRequestNative(endpoint, raw, (b) => addon.scanRequest(b));
}

const SPLICED = ['model', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'stream_options'];
const OTHER_MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'route-alias', 'o3'];
export const EDITS: [string | undefined, number | undefined][] = [[undefined, undefined], ['gpt-4.1-mini', undefined], [undefined, 7], ['claude-x', 1]];

/** Everything the rest of Tollgate reads from a call, or its refusal. */
export function outcome(path: Path, endpoint: TokenEndpoint, raw: Buffer): unknown {
  let c: ParsedCall;
  try {
    c = read(path, endpoint, raw);
  } catch (err) {
    return { refused: (err as Error).message, code: (err as { code?: string }).code };
  }
  return {
    endpoint: c.endpoint,
    protocol: c.protocol,
    model: c.model,
    stream: c.stream,
    maxOutputTokens: c.maxOutputTokens,
    promptTokensEstimate: c.promptTokensEstimate,
    promptTokensFor: OTHER_MODELS.map((m) => c.promptTokensFor(m)),
    choices: c.choices,
    wantsStreamUsage: c.wantsStreamUsage,
    predictionTokens: c.predictionTokens,
    storedContext: c.storedContext,
    cacheWrite: c.cacheWrite,
    open: c.layout?.open,
    // The spans splicing uses (the JavaScript path's layout lists every top-level member).
    members: [...(c.layout?.members ?? [])].filter(([k]) => SPLICED.includes(k)).sort(),
    streamOptions: c.layout?.streamOptions && { count: c.layout.streamOptions.count, members: [...c.layout.streamOptions.members].filter(([k]) => k === 'include_usage') },
    upstream: EDITS.map(([m, max]) => upstreamBody(c, m ?? c.model, max).toString('latin1')),
  };
}

/** The upstream bodies of the JSON path (the parsed body edited and re-serialised), parsed. */
export function reserialised(c: ParsedCall): unknown[] {
  const plain: ParsedCall = { ...c, layout: undefined };
  return EDITS.map(([m, max]) => JSON.parse(upstreamBody(plain, m ?? c.model, max).toString()));
}

/**
 * A spliced body as the JSON path would have sent it: parsed, then through
 * JSON.stringify's own number rules (-0 becomes 0, 1e400 null; the splice
 * forwards the client's digits as written).
 */
export const normalised = (body: Buffer | string): unknown => JSON.parse(JSON.stringify(JSON.parse(body.toString())));
