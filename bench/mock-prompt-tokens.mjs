// Realistic prompt token counts for the mock upstream's opt-in
// `promptTokens: 'tokenizer'` behaviour: the real tiktoken encodings
// (o200k_base for GPT-4o-era models, cl100k_base otherwise, as the
// customary stand-in for Anthropic's unpublished tokenizer), the chat
// templates' per-message overheads, and the vendors' media rules. Slow
// compared to the default chars/4 (tiktoken per request), so benches keep
// the default; the estimate's property tests use this.
//
// Rules (per vendor docs):
//   OpenAI chat: 3 per message + tokens of each field's text (+1 for a name)
//     + 3 for the reply; tools, tool_choice, response_format as their JSON.
//   Images: tile models 85 (low) or 85 + 170 × 512-px tiles after fitting
//     2048² and scaling the short side to 768; gpt-4o-mini 2,833 / 5,667;
//     patch models (gpt-4.1-mini/nano, o4-mini) 32-px patches capped at
//     1,536 × 1.62. Anthropic: w × h / 750 after resizing to a 1,568-px long
//     edge and 1.15 MP. Without readable dimensions: 765 (a 2048² image,
//     4 tiles at 85/170) and 1,600 for Anthropic.
//   Audio: 10 per second (WAV header), else 1 per 100 bytes.
//   Files and documents: one token per 2 decoded bytes.
//   Embeddings: tokens of each string, one per token id.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const encoders = new Map();

function encoder(model) {
  const m = String(model ?? '').slice(String(model ?? '').lastIndexOf('/') + 1);
  const name = /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|codex)/.test(m) ? 'o200k_base' : 'cl100k_base';
  let e = encoders.get(name);
  if (!e) {
    e = require('@dqbd/tiktoken').get_encoding(name);
    encoders.set(name, e);
  }
  return e;
}

function decodedBytes(b64) {
  let n = b64.length;
  while (n > 0 && b64.charCodeAt(n - 1) === 61) n--;
  return Math.floor((n * 3) / 4);
}

function pngOrGifSize(b64) {
  const b = Buffer.from(b64.slice(0, 64), 'base64');
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString('latin1', 0, 3) === 'GIF') return { w: b.readUInt16LE(6), h: b.readUInt16LE(8) };
  return undefined;
}

function dataPayload(url) {
  if (typeof url !== 'string' || !url.startsWith('data:')) return undefined;
  return url.slice(url.indexOf(',') + 1);
}

function openaiImage(model, url, detail) {
  const p = dataPayload(url);
  const d = p === undefined ? { w: 2048, h: 2048 } : pngOrGifSize(p);
  if (!d) return undefined; // not an image: the vendor refuses it
  if (/gpt-4\.1-(mini|nano)|o4-mini/.test(model)) {
    return Math.ceil(Math.min(1536, Math.ceil(d.w / 32) * Math.ceil(d.h / 32)) * 1.62);
  }
  const mini = /gpt-4o-mini/.test(model);
  const base = mini ? 2833 : 85, tile = mini ? 5667 : 170;
  if (detail === 'low') return base;
  let w = d.w, h = d.h;
  if (w > 2048 || h > 2048) { const f = 2048 / Math.max(w, h); w = Math.floor(w * f); h = Math.floor(h * f); }
  if (Math.min(w, h) > 768) { const f = 768 / Math.min(w, h); w = Math.floor(w * f); h = Math.floor(h * f); }
  return base + tile * Math.ceil(w / 512) * Math.ceil(h / 512);
}

function anthropicImage(source) {
  if (!source || source.type !== 'base64' || typeof source.data !== 'string') return 1600;
  const d = pngOrGifSize(source.data);
  if (!d) return undefined;
  let { w, h } = d;
  const long = Math.max(w, h);
  if (long > 1568) { w = (w * 1568) / long; h = (h * 1568) / long; }
  if (w * h > 1_150_000) { const f = Math.sqrt(1_150_000 / (w * h)); w *= f; h *= f; }
  return Math.ceil((w * h) / 750);
}

function audio(data) {
  if (typeof data !== 'string') return 0;
  const bytes = decodedBytes(data);
  const head = Buffer.from(data.slice(0, 60), 'base64');
  if (head.length >= 32 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WAVE') {
    const rate = head.readUInt32LE(28);
    if (rate > 0) return Math.ceil((bytes / rate) * 10);
  }
  return Math.ceil(bytes / 100);
}

const file = (b64) => (typeof b64 === 'string' ? Math.ceil(decodedBytes(dataPayload(b64) ?? b64) / 2) : 0);

/** Tokens of one content part or message field value, by the vendor rules above. */
function part(model, enc, p) {
  if (typeof p === 'string') return enc.encode_ordinary(p).length;
  if (typeof p === 'number') return 1;
  if (Array.isArray(p)) return p.reduce((s, x) => s + part(model, enc, x), 0);
  if (!p || typeof p !== 'object') return 0;
  switch (p.type) {
    case 'text': case 'input_text': case 'output_text': return part(model, enc, p.text);
    case 'image_url': {
      const iu = p.image_url;
      return openaiImage(model, typeof iu === 'string' ? iu : iu?.url, iu?.detail) ?? 0;
    }
    case 'input_image': return openaiImage(model, p.image_url ?? 'https://file', p.detail) ?? 0;
    case 'image': return anthropicImage(p.source) ?? 0;
    case 'input_audio': return audio(p.input_audio?.data);
    case 'file': return file(p.file?.file_data);
    case 'input_file': return file(p.file_data);
    case 'document': return p.source?.type === 'base64' ? file(p.source.data) : part(model, enc, p.source?.data ?? p.source?.content ?? '');
    case 'tool_use': return part(model, enc, p.name) + json(enc, p.input);
    case 'tool_result': return part(model, enc, p.content);
    case 'function_call': return part(model, enc, p.name) + part(model, enc, p.arguments);
    case 'function_call_output': return part(model, enc, p.output);
    default: {
      // a message object: its role, name and content
      let n = 3;
      if (typeof p.role === 'string') n += part(model, enc, p.role);
      if (typeof p.name === 'string') n += part(model, enc, p.name) + 1;
      if (p.content !== undefined) n += part(model, enc, p.content);
      if (Array.isArray(p.tool_calls)) for (const tc of p.tool_calls) n += part(model, enc, tc?.function?.name ?? '') + part(model, enc, tc?.function?.arguments ?? '');
      if (typeof p.tool_call_id === 'string') n += part(model, enc, p.tool_call_id);
      return n;
    }
  }
}

const json = (enc, v) => (v === undefined ? 0 : enc.encode_ordinary(JSON.stringify(v)).length);

/** Prompt tokens a provider would bill for this body, by the rules in the header. */
export function tokenizerPromptTokens(path, body) {
  if (!body || typeof body !== 'object') return 0;
  const model = typeof body.model === 'string' ? body.model : '';
  const enc = encoder(model);
  if (path === '/v1/embeddings') {
    const input = body.input;
    if (typeof input === 'string') return part(model, enc, input);
    if (!Array.isArray(input)) return 0;
    return input.reduce((s, x) => s + (Array.isArray(x) ? x.length : typeof x === 'number' ? 1 : part(model, enc, x)), 0);
  }
  let n = 3 + json(enc, body.tools) + json(enc, body.tool_choice) + json(enc, body.response_format) + json(enc, body.text?.format);
  if (path.startsWith('/v1/messages')) {
    n += part(model, enc, body.system);
    for (const m of Array.isArray(body.messages) ? body.messages : []) n += part(model, enc, m);
  } else if (path === '/v1/responses') {
    n += part(model, enc, body.instructions ?? '');
    n += part(model, enc, body.input ?? '');
  } else {
    for (const m of Array.isArray(body.messages) ? body.messages : []) n += part(model, enc, m);
  }
  return n;
}
