import type { PriceMatch } from './price-table.js';

// Which table entry prices an image: the table keys DALL·E and GPT image
// prices by quality and size (`hd/1024-x-1792/dall-e-3`,
// `high/1536-x-1024/gpt-image-1`, `512-x-512/dall-e-2`), with the bare model
// id as the fallback per-image price. When the request leaves quality or
// size to the model (`auto`), the dearest variant is the one reserved. PURE.

/** Looks an id up in the table; undefined unless that very id (not a prefix or snapshot form of it) has a price. */
export type ExactLookup = (id: string) => PriceMatch | undefined;

const QUALITIES = ['high', 'hd', 'medium', 'standard', 'low'];
const SIZES = ['1024x1024', '1024x1536', '1536x1024', '1024x1792', '1792x1024', '512x512', '256x256'];

const key = (size: string) => size.replace('x', '-x-');

/** The per-image price for `quality` and `size` ('auto': the dearest the table knows), else the model's own. */
export function imagePrice(lookup: ExactLookup, model: string, size: string, quality: string): PriceMatch | undefined {
  const sizes = size === 'auto' ? SIZES : [size];
  const qualities = quality === 'auto' ? QUALITIES : [quality];
  let best: PriceMatch | undefined;
  const consider = (m: PriceMatch | undefined): boolean => {
    if (!m?.entry.per_image) return false;
    if (!best || m.entry.per_image > best.entry.per_image!) best = m;
    return true;
  };
  for (const s of sizes) {
    let found = false;
    for (const q of qualities) found = consider(lookup(`${q}/${key(s)}/${model}`)) || found;
    // Models priced by size alone (dall-e-2).
    if (!found) consider(lookup(`${key(s)}/${model}`));
  }
  if (best) return best;
  const own = lookup(model);
  return own?.entry.per_image ? own : undefined;
}
