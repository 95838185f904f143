import { get_encoding, type Tiktoken } from '@dqbd/tiktoken';
import type { EncodingName } from './encoding-for-model.js';
import { boundedPieces, byteBound } from './bounded-pieces.js';

// Piscina worker: counts tokens off the shards' event loops. Encoders are
// built once per worker (tens of ms) and reused. Every text is cut into
// bounded pieces, and one task counts for at most `budgetMs`: what is left
// after that (or what the encoder fails on) counts as its UTF-8 bytes, an
// upper bound, and the task says it is not exact.

const encoders = new Map<EncodingName, Tiktoken>();

export interface CountTask { encoding: EncodingName; texts: string[]; budgetMs: number }
export interface CountResult { counts: number[]; exact: boolean }

export default function count({ encoding, texts, budgetMs }: CountTask): CountResult {
  let enc = encoders.get(encoding);
  if (!enc) {
    enc = get_encoding(encoding);
    encoders.set(encoding, enc);
  }
  const deadline = performance.now() + budgetMs;
  let exact = true;
  const counts = texts.map((t) => {
    if (!t) return 0;
    let n = 0;
    for (const piece of boundedPieces(t)) {
      if (!exact && performance.now() > deadline) {
        n += byteBound(piece);
        continue;
      }
      try {
        n += enc!.encode_ordinary(piece).length;
      } catch {
        // A WASM trap may leave the encoder unusable: start a fresh one.
        n += byteBound(piece);
        exact = false;
        enc = get_encoding(encoding);
        encoders.set(encoding, enc);
      }
      if (performance.now() > deadline) exact = false;
    }
    return n;
  });
  return { counts, exact };
}
