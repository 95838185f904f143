// Upper bounds of the prompt tokens a provider bills for media content, read
// from the part's structure (its type and media fields), never guessed from
// a string's first bytes. Dimensions come from the image header inside a
// data: URL; without them (a remote URL, a file id) the stated per-image
// maximum is charged. A data: payload that is not a parseable image counts
// its bytes as text: nothing is ever free.
//
// Sources (vendor docs, 2025):
// - OpenAI vision, tile models (gpt-4o, gpt-4.1, o-series, gpt-5):
//   detail "low" = 85; "high"/"auto" = 85 + 170 × tiles after fitting the
//   image in 2048×2048, then scaling its short side down to 768; 512 px
//   tiles. gpt-5 (70/140) and o1/o3 (75/150) are below those numbers.
//   gpt-4o-mini bills the same image at 2,833 + 5,667 per tile.
//   Patch models (gpt-4.1-mini/-nano, o4-mini): 32 px patches, at most
//   1,536, × 1.62 / 2.46 / 1.72; bounded here by 1,536 × 2.5 = 3,840.
//   The bound is the formula of the model's family; a name we do not
//   recognise (a route alias) gets the largest of them.
// - Anthropic: tokens ≈ width × height / 750 after resizing to a long edge
//   of at most 1,568 px and ~1.15 megapixels, so at most ~1,600 per image.
// - Audio (OpenAI input_audio): 10 tokens per second of audio; WAV duration
//   from its header, otherwise bytes at the lowest bitrate accepted
//   (mp3 at 8 kbit/s = 1,000 bytes per second).
// - Files and documents (PDF): the provider extracts text and renders
//   pages; bounded by one token per byte of the decoded file, the ceiling
//   of any text extraction, plus an image per page for rendered pages
//   (bounded by bytes/1,000 pages).

import { imageSize } from './image-size.js';

export const ANTHROPIC_IMAGE_MAX = 1_600;
const OPENAI_TILE_MAX = 8; // 768 × 2048 after the resize rules
const PATCH_MAX_TOKENS = 3_840;

function tiles(w: number, h: number): number {
  let W = w, H = h;
  if (W > 2048 || H > 2048) {
    const f = 2048 / Math.max(W, H);
    W = Math.floor(W * f);
    H = Math.floor(H * f);
  }
  if (Math.min(W, H) > 768) {
    const f = 768 / Math.min(W, H);
    W = Math.floor(W * f);
    H = Math.floor(H * f);
  }
  return Math.ceil(W / 512) * Math.ceil(H / 512);
}

function patchTokens(w: number, h: number): number {
  let patches = Math.ceil(w / 32) * Math.ceil(h / 32);
  if (patches > 1536) patches = 1536;
  return Math.ceil(patches * 2.5);
}

type ImageFamily = 'tile' | 'mini' | 'patch' | 'unknown';

/** Which of OpenAI's image rules a model name follows; an unknown name (a route alias) gets the largest of them. */
function imageFamily(model: string): ImageFamily {
  const m = model.slice(model.lastIndexOf('/') + 1);
  if (/^gpt-4o-mini/.test(m)) return 'mini';
  if (/^(gpt-4\.1-(mini|nano)|o4-mini|gpt-5-(mini|nano))/.test(m)) return 'patch';
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-5|o1|o3|computer-use)/.test(m)) return 'tile';
  return 'unknown';
}

/** Tokens of an OpenAI image (chat image_url, Responses input_image). `url` may be a data: URL. */
export function openaiImageTokens(model: string, url: unknown, detail: unknown): number {
  const dims = typeof url === 'string' ? dataUrlImageSize(url) : undefined;
  if (dims === 'unparseable') return undefinedImageAsText(url as string);
  const family = imageFamily(model);
  const t = dims ? tiles(dims.w, dims.h) : OPENAI_TILE_MAX;
  const tile = (base: number, perTile: number) => (detail === 'low' ? base : base + perTile * t);
  let bound = 0;
  if (family === 'tile' || family === 'unknown') bound = Math.max(bound, tile(85, 170));
  if (family === 'mini' || family === 'unknown') bound = Math.max(bound, tile(2_833, 5_667));
  if (family === 'patch' || family === 'unknown') bound = Math.max(bound, dims ? patchTokens(dims.w, dims.h) : PATCH_MAX_TOKENS);
  return bound;
}

/** Tokens of an Anthropic image block's source. */
export function anthropicImageTokens(source: unknown): number {
  const s = source as { type?: unknown; data?: unknown; media_type?: unknown } | null;
  if (s && typeof s === 'object' && s.type === 'base64' && typeof s.data === 'string') {
    const dims = base64ImageSize(s.data);
    if (!dims) return s.data.startsWith('/9j/') ? ANTHROPIC_IMAGE_MAX : base64Bytes(s.data);
    let { w, h } = dims;
    const long = Math.max(w, h);
    if (long > 1568) { w = (w * 1568) / long; h = (h * 1568) / long; }
    if (w * h > 1_150_000) { const f = Math.sqrt(1_150_000 / (w * h)); w *= f; h *= f; }
    return Math.min(ANTHROPIC_IMAGE_MAX, Math.ceil((w * h) / 750) + 1);
  }
  return ANTHROPIC_IMAGE_MAX;
}

/** Tokens of audio: 10 per second from a WAV header, else its bytes at 8 kbit/s. */
export function audioTokens(base64: unknown): number {
  if (typeof base64 !== 'string') return 0;
  const bytes = decodedLength(base64);
  const head = decodeHead(base64, 44);
  if (head && head.length >= 44 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WAVE') {
    const byteRate = head.readUInt32LE(28);
    if (byteRate >= 1_000) return Math.ceil((bytes / byteRate) * 10) + 10;
  }
  return Math.ceil((bytes / 1_000) * 10) + 10;
}

/** Tokens of a file or document payload given as base64: one per decoded byte, plus rendered pages. */
export function fileTokens(base64: unknown): number {
  if (typeof base64 !== 'string') return 0;
  const raw = base64.startsWith('data:') ? base64.slice(base64.indexOf(',') + 1) : base64;
  const bytes = decodedLength(raw);
  return bytes + Math.ceil(bytes / 1_000) * ANTHROPIC_IMAGE_MAX;
}

/** A file referenced by id or URL: its size is unknown here; a stated bound per file. */
export const FILE_REFERENCE_TOKENS = 100_000;

function base64Bytes(s: string): number {
  return decodedLength(s);
}

function undefinedImageAsText(url: string): number {
  return url.length; // one token per character: the hard ceiling for ASCII
}

function dataUrlImageSize(url: string): { w: number; h: number } | undefined | 'unparseable' {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || !url.slice(0, comma).endsWith(';base64')) return 'unparseable';
  const size = base64ImageSize(url, comma + 1);
  if (size) return size;
  // A JPEG whose frame header lies past the bytes read (large EXIF): an image all the same, at the maximum.
  return url.startsWith('/9j/', comma + 1) ? undefined : 'unparseable';
}

function base64ImageSize(s: string, offset = 0): { w: number; h: number } | undefined {
  const head = decodeHead(s, 64 * 1024, offset);
  return head ? imageSize(head) : undefined;
}

function decodedLength(s: string): number {
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) === 61) n--; // '='
  return Math.floor((n * 3) / 4);
}

function decodeHead(s: string, bytes: number, offset = 0): Buffer | undefined {
  const chars = Math.ceil(bytes / 3) * 4;
  const part = s.slice(offset, offset + chars);
  const buf = Buffer.from(part, 'base64');
  return buf.length ? buf : undefined;
}
