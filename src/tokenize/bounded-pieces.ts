// Cuts text into pieces tiktoken encodes in bounded time and memory.
//
// tiktoken's WASM BPE is quadratic in the length of one pre-token (a run of
// characters without spaces: 10k chars ~0.1 s, 100k ~10 s) and aborts with
// `RuntimeError: unreachable` near 1M. Cutting runs longer than `maxRun`
// and pieces longer than `maxPiece` keeps every encode call small. A cut can
// only split a token the whole text would have merged, so the count can only
// go up: the safe direction for billing. Surrogate pairs are never split.

export const MAX_RUN = 256;
export const MAX_PIECE = 4096;

const isSpace = (c: number) => c === 32 || c === 10 || c === 9 || c === 13;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

export function boundedPieces(text: string, maxPiece = MAX_PIECE, maxRun = MAX_RUN): string[] {
  if (text.length <= maxRun) return [text];
  const out: string[] = [];
  let start = 0;
  let lastSpace = -1;
  let runStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      lastSpace = i;
      runStart = i + 1;
    }
    if (isLowSurrogate(c)) continue;
    // A space starts the next piece: tiktoken joins it to the word after it, so prose counts as if whole.
    const cut = i - start >= maxPiece && lastSpace > start ? lastSpace : i - runStart >= maxRun || i - start >= maxPiece ? i : -1;
    if (cut > start) {
      out.push(text.slice(start, cut));
      start = cut;
      if (runStart < cut) runStart = cut;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** Tokens can never outnumber UTF-8 bytes (every BPE token is at least one byte): the upper bound when counting is not possible. */
export function byteBound(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
