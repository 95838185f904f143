import fc from 'fast-check';
import { SINGLE_TOKEN_WORDS } from '../../src/protocols/estimate/single-token-words.js';

// Random request bodies for the four endpoints, with every content-part
// type, token arrays, tools and n: the inputs of the estimate's property
// tests (pure, and through the real process).

const cp = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c));
const ascii = fc.array(fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)), { maxLength: 120 }).map((a) => a.join(''));
const LISTED = Object.values(SINGLE_TOKEN_WORDS).flatMap((l) => l.split(' '));
const english = fc.array(fc.constantFrom(...LISTED.slice(0, 3000), 'tokenization', 'Tollgate', 'budget', 'xylophone'), { maxLength: 60 }).map((a) => a.join(' '));

// Non-ASCII number characters (\p{N}: the tokenizers group them with 0-9 in threes) of 2, 3 and 4 UTF-8 bytes.
const numberChar = fc.oneof(
  cp(0x660, 0x669), cp(0x6f0, 0x6f9), cp(0x966, 0x96f), cp(0xff10, 0xff19), fc.constantFrom('\u00b2', '\u00bd', '\u00b9', '\u00bc'),
  cp(0x2460, 0x2473), cp(0x1d7ce, 0x1d7ff), cp(0x1e950, 0x1e959),
);
/** ASCII digits beside non-ASCII number characters and other non-ASCII characters (CJK, €, é, emoji). */
export const digitsWithNumbers = fc.array(fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[0-9]{1,7}$/) },
  { weight: 3, arbitrary: fc.array(numberChar, { minLength: 1, maxLength: 3 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('\u20ac', '\u5e74', '\u00e9', '\u{1f600}', '\u{20000}', '\u00d7', ' ', ',', '.', 'a') },
), { maxLength: 30 }).map((a) => a.join(''));

export const text = fc.oneof(
  english,
  ascii,
  fc.array(fc.constantFrom(...'qxzjkvwQXZJKVW'), { maxLength: 200 }).map((a) => a.join('')),
  fc.array(fc.constantFrom(...'0123456789'), { maxLength: 200 }).map((a) => a.join('')),
  fc.array(fc.constantFrom(...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'), { maxLength: 120 }).map((a) => a.join('')),
  fc.array(cp(0x4e00, 0x9fff), { maxLength: 60 }).map((a) => a.join('')),
  fc.array(cp(0x1f300, 0x1faff), { maxLength: 40 }).map((a) => a.join('')),
  fc.array(cp(0, 0x10ffff), { maxLength: 40 }).map((a) => a.join('')),
  fc.tuple(fc.base64String({ minLength: 200, maxLength: 400 }), english).map(([b, e]) => b + e),
  digitsWithNumbers,
);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));

function png(w: number, h: number, rest: Buffer): string {
  const head = Buffer.alloc(33);
  head.writeUInt32BE(0x89504e47, 0);
  head.writeUInt32BE(0x0d0a1a0a, 4);
  head.writeUInt32BE(13, 8);
  head.write('IHDR', 12, 'latin1');
  head.writeUInt32BE(w, 16);
  head.writeUInt32BE(h, 20);
  head[24] = 8;
  head[25] = 6;
  return Buffer.concat([head, rest]).toString('base64');
}

function wav(byteRate: number, data: Buffer): string {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(byteRate / 2, 24);
  h.writeUInt32LE(byteRate, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]).toString('base64');
}

const dims = fc.integer({ min: 1, max: 9000 });
const pngData = fc.tuple(dims, dims, bytes(300)).map(([w, h, r]) => png(w, h, r));
const imageUrl = fc.oneof(
  pngData.map((b) => `data:image/png;base64,${b}`),
  fc.base64String({ maxLength: 600 }).map((b) => `data:image/png;base64,${b}`), // not an image
  fc.webUrl(),
);
const detail = fc.constantFrom(undefined, 'low', 'high', 'auto');
const wavData = fc.tuple(fc.constantFrom(8_000, 16_000, 32_000, 48_000, 96_000), bytes(4_000)).map(([r, d]) => wav(r, d));
const fileData = bytes(3_000).map((b) => b.toString('base64'));

const openaiPart = fc.oneof(
  text.map((t) => ({ type: 'text', text: t })),
  fc.tuple(imageUrl, detail).map(([url, d]) => ({ type: 'image_url', image_url: d ? { url, detail: d } : { url } })),
  fc.tuple(fc.oneof(wavData, fc.base64String({ maxLength: 2_000 })), fc.constantFrom('wav', 'mp3')).map(([data, format]) => ({ type: 'input_audio', input_audio: { data, format } })),
  fc.tuple(fileData, fc.constantFrom('a.pdf', 'notes.txt')).map(([d, filename]) => ({ type: 'file', file: { file_data: `data:application/pdf;base64,${d}`, filename } })),
  fc.constant({ type: 'file', file: { file_id: 'file-abc123' } }),
);

const schema = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.record({ type: fc.constantFrom('string', 'number', 'integer', 'boolean'), description: fc.option(text, { nil: undefined }) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('object'), properties: fc.dictionary(fc.oneof(fc.string({ maxLength: 20 }), english), tie('node'), { maxKeys: 4 }) }),
    fc.record({ type: fc.constant('array'), items: tie('node') }),
    fc.record({ enum: fc.array(fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), { maxLength: 5 }) }),
  ),
})).node;

const fnName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,30}$/);
const openaiTool = fc.record({ type: fc.constant('function'), function: fc.record({ name: fnName, description: text, parameters: schema }) });
const anthropicTool = fc.record({ name: fnName, description: text, input_schema: schema });
const n = fc.option(fc.integer({ min: 1, max: 128 }), { nil: undefined });

const chatMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer', 'user'), content: fc.oneof(text, fc.array(openaiPart, { maxLength: 4 })) }),
  fc.record({ role: fc.constant('user'), content: text, name: fnName }),
  fc.record({ role: fc.constant('assistant'), content: fc.option(text, { nil: null }), tool_calls: fc.array(fc.record({ id: fnName, type: fc.constant('function'), function: fc.record({ name: fnName, arguments: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) }) }), { maxLength: 2 }) }),
  fc.record({ role: fc.constant('tool'), tool_call_id: fnName, content: text }),
);

export const chatBody = fc.record({
  model: fc.constantFrom('gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini'),
  messages: fc.array(chatMessage, { minLength: 1, maxLength: 5 }),
  tools: fc.option(fc.array(openaiTool, { minLength: 1, maxLength: 3 }), { nil: undefined }),
  tool_choice: fc.option(fc.oneof(fc.constantFrom('auto', 'required', 'none'), fnName.map((name) => ({ type: 'function', function: { name } }))), { nil: undefined }),
  response_format: fc.option(fc.record({ type: fc.constant('json_schema'), json_schema: fc.record({ name: fnName, schema }) }), { nil: undefined }),
  n,
  max_tokens: fc.integer({ min: 1, max: 64 }),
}, { requiredKeys: ['model', 'messages', 'max_tokens'] });

const responsesPart = fc.oneof(
  text.map((t) => ({ type: 'input_text', text: t })),
  fc.tuple(imageUrl, detail).map(([image_url, d]) => (d ? { type: 'input_image', image_url, detail: d } : { type: 'input_image', image_url })),
  fc.constant({ type: 'input_image', file_id: 'file-img' }),
  fc.tuple(fileData, fc.constantFrom('a.pdf', 'b.pdf')).map(([d, filename]) => ({ type: 'input_file', file_data: `data:application/pdf;base64,${d}`, filename })),
);

export const responsesBody = fc.record({
  model: fc.constantFrom('gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini'),
  instructions: fc.option(text, { nil: undefined }),
  input: fc.oneof(text, fc.array(fc.oneof(
    fc.record({ role: fc.constantFrom('user', 'system', 'developer'), content: fc.oneof(text, fc.array(responsesPart, { minLength: 1, maxLength: 3 })) }),
    fc.record({ type: fc.constant('function_call'), call_id: fnName, name: fnName, arguments: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) }),
    fc.record({ type: fc.constant('function_call_output'), call_id: fnName, output: text }),
  ), { minLength: 1, maxLength: 4 })),
  tools: fc.option(fc.array(fc.record({ type: fc.constant('function'), name: fnName, description: text, parameters: schema }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  max_output_tokens: fc.integer({ min: 16, max: 64 }),
}, { requiredKeys: ['model', 'input', 'max_output_tokens'] });

const tokenIds = fc.array(fc.integer({ min: 0, max: 199_999 }), { minLength: 1, maxLength: 3_000 });
export const embeddingsBody = fc.record({
  model: fc.constant('text-embedding-3-small'),
  input: fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 5 }), tokenIds, fc.array(tokenIds, { minLength: 1, maxLength: 3 })),
});

const anthropicBlock = fc.oneof(
  text.map((t) => ({ type: 'text', text: t })),
  fc.tuple(dims, dims, bytes(300)).map(([w, h, r]) => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(w, h, r) } })),
  fc.base64String({ maxLength: 600 }).map((data) => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data } })),
  fc.webUrl().map((url) => ({ type: 'image', source: { type: 'url', url } })),
  fileData.map((data) => ({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } })),
  text.map((data) => ({ type: 'document', source: { type: 'text', media_type: 'text/plain', data } })),
  fc.tuple(fnName, fc.jsonValue({ maxDepth: 2 })).map(([name, input]) => ({ type: 'tool_use', id: 'toolu_1', name, input: { v: input } })),
  text.map((content) => ({ type: 'tool_result', tool_use_id: 'toolu_1', content })),
);

export const messagesBody = fc.record({
  model: fc.constantFrom('claude-haiku-4-5', 'claude-sonnet-4-5'),
  system: fc.option(fc.oneof(text, fc.array(text.map((t) => ({ type: 'text', text: t })), { maxLength: 2 })), { nil: undefined }),
  messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.oneof(text, fc.array(anthropicBlock, { minLength: 1, maxLength: 3 })) }), { minLength: 1, maxLength: 4 }),
  tools: fc.option(fc.array(anthropicTool, { minLength: 1, maxLength: 3 }), { nil: undefined }),
  max_tokens: fc.integer({ min: 1, max: 64 }),
}, { requiredKeys: ['model', 'messages', 'max_tokens'] });

export const bodies = {
  chat: { path: '/v1/chat/completions', body: chatBody },
  responses: { path: '/v1/responses', body: responsesBody },
  embeddings: { path: '/v1/embeddings', body: embeddingsBody },
  messages: { path: '/v1/messages', body: messagesBody },
} as const;
