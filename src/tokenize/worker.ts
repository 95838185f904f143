import { get_encoding, type Tiktoken } from '@dqbd/tiktoken';
import type { EncodingName } from './encoding-for-model.js';

// Piscina worker: counts tokens off the shards' event loops. Encoders are
// built once per worker (tens of ms) and reused.

const encoders = new Map<EncodingName, Tiktoken>();

export interface CountTask { encoding: EncodingName; texts: string[] }

export default function count({ encoding, texts }: CountTask): number[] {
  let enc = encoders.get(encoding);
  if (!enc) {
    enc = get_encoding(encoding);
    encoders.set(encoding, enc);
  }
  return texts.map((t) => (t ? enc!.encode_ordinary(t).length : 0));
}
