import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamBody } from '../../src/protocols/call.js';
import { scanDisagreements, type TokenEndpoint } from '../../src/protocols/read-request.js';
import { bodies } from '../protocols/estimate-arbitraries.js';
import { readJsonAnswerJs, readJsonAnswerNative } from '../../src/protocols/json-answer.js';
import { addon, EDITS, normalised, outcome, PATHS, read, reserialised } from './scan-both.js';
import { wordTable } from '../../src/protocols/estimate/text-tokens.js';

// The native scanner against the JavaScript path on random and hostile
// bodies: same refusal (and message), same fields, same estimate, same
// spliced upstream bodies, which parse to what the re-serialising path sent.

const ENDPOINTS: TokenEndpoint[] = ['chat', 'responses', 'embeddings', 'messages'];

/** Deterministic choices for the serialiser. */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

const WS = ['', '', '', ' ', '\n', '\t', '\r\n', '  '];

/** JSON text of v with random (valid) spelling: whitespace, escapes, number forms, and rarely a repeated key. */
function spell(v: unknown, r: (n: number) => number, dupRate: number): string {
  const w = () => WS[r(WS.length)]!;
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'null';
    switch (r(6)) {
      case 0: return v.toExponential();
      case 1: return Number.isInteger(v) ? `${v}.0` : String(v);
      case 2: return String(v).toUpperCase();
      default: return JSON.stringify(v);
    }
  }
  if (typeof v === 'string') {
    let out = '"';
    for (const ch of v) {
      const code = ch.codePointAt(0)!;
      if (code < 0x20 || ch === '"' || ch === '\\' || r(12) === 0) {
        for (let i = 0; i < ch.length; i++) {
          const u = ch.charCodeAt(i).toString(16).padStart(4, '0');
          out += `\\u${r(2) ? u : u.toUpperCase()}`;
        }
      } else out += ch;
    }
    return out + '"';
  }
  if (Array.isArray(v)) return `[${w()}${v.map((x) => spell(x, r, dupRate)).join(`${w()},${w()}`)}${w()}]`;
  const entries = Object.entries(v as object).filter(([, x]) => x !== undefined).map(([k, x]) => `${spell(k, r, dupRate)}${w()}:${w()}${spell(x, r, dupRate)}`);
  if (entries.length && r(1000) < dupRate) entries.push(entries[r(entries.length)]!);
  if (r(3) === 0) entries.reverse();
  return `{${w()}${entries.join(`${w()},${w()}`)}${w()}}`;
}

const KEYS = ['model', 'stream', 'stream_options', 'include_usage', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'n', 'best_of',
  'messages', 'input', 'prompt', 'tools', 'type', 'prediction', 'cache_control', 'ttl', 'previous_response_id', 'conversation', 'mcp_servers',
  'metadata', 'user', 'content', 'text', 'image_url', 'url', 'source', 'data', 'file', 'file_data', '__proto__', 'constructor', 'toString'];
const VALUES = ['gpt-4o', 'claude-sonnet-4-5', 'text', 'image_url', 'input_image', 'image', 'file', 'document', 'input_audio', 'web_search', 'mcp',
  '1h', 'content', 'function', '', 'internationalization', '\ud800', '\udc00\ud800', '\u{1f600}', 'é', '中文', '\u0000\t'];

const hugeNumber = fc.constantFrom(1e21, 1e308, -1e-7, 5e-324, 123456789012345678, -0, 0.1 + 0.2, 2 ** 53 + 1, 1e16, 999999999999999);
const scalar = fc.oneof(fc.constantFrom(...VALUES), fc.string({ unit: 'binary', maxLength: 30 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), hugeNumber, fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), tie('v'), { maxKeys: 4 })),
})).v;

/** Bodies that look like calls, with odd fields and types everywhere. */
const oddBody = fc.record({
  model: fc.oneof(fc.constantFrom('gpt-4o', 'gpt-4o-mini', 'claude-haiku-4-5', 'o3', 'x/gpt-5', ''), scalar, fc.string({ unit: 'binary', maxLength: 300 })),
  messages: fc.oneof(fc.array(value, { maxLength: 4 }), value),
  input: fc.oneof(fc.array(fc.integer({ min: -5, max: 99999 }), { maxLength: 6 }), fc.array(fc.array(fc.oneof(fc.integer(), value), { maxLength: 3 }), { maxLength: 3 }), value),
  stream: fc.oneof(fc.boolean(), scalar),
  stream_options: fc.oneof(fc.record({ include_usage: fc.oneof(fc.boolean(), scalar), other: value }, { requiredKeys: [] }), scalar),
  max_tokens: fc.oneof(fc.integer({ min: -2, max: 20_000_000 }), hugeNumber, scalar),
  max_completion_tokens: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(null)),
  max_output_tokens: fc.oneof(fc.integer({ min: 1, max: 100 }), scalar),
  n: fc.oneof(fc.integer({ min: 0, max: 200 }), scalar),
  best_of: fc.integer({ min: 1, max: 5 }),
  tools: fc.array(fc.oneof(fc.record({ type: fc.constantFrom('function', 'web_search_preview', 'mcp', 'file_search', 'x') }), value), { maxLength: 3 }),
  prediction: value,
  metadata: value,
  prompt: value,
  previous_response_id: fc.oneof(fc.constant(null), fc.string()),
  mcp_servers: fc.array(value, { maxLength: 2 }),
  extra: value,
}, { requiredKeys: [] });

function nest(depth: number, inner: string, r: (n: number) => number): string {
  let s = inner;
  for (let i = 0; i < depth; i++) s = r(2) ? `[${s}]` : `{"k${i % 3}":${s}}`;
  return s;
}

/** Text that is often not a valid body: truncated, a byte flipped, bad UTF-8, very deep. */
function hostile(text: string, r: (n: number) => number): Buffer {
  const buf = Buffer.from(text);
  switch (r(8)) {
    case 0: return buf.subarray(0, r(buf.length + 1));
    case 1: {
      const b = Buffer.from(buf);
      if (b.length) b[r(b.length)] = [0x22, 0x5c, 0x7d, 0x5d, 0x2c, 0x3a, 0x00, 0x80, 0xff, 0xc0, 0xed, 0x20][r(12)]!;
      return b;
    }
    case 2: {
      const at = r(buf.length + 1);
      const bad = [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x98, 0x80]][r(6)]!;
      return Buffer.concat([buf.subarray(0, at), Buffer.from(bad), buf.subarray(at)]);
    }
    case 3: return Buffer.from(text.replace(/"messages":/, `"messages":${nest(60 + r(10), '"x"', r)},"m2":`));
    case 4: return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]);
    default: return buf;
  }
}

function agree(endpoint: TokenEndpoint, raw: Buffer): void {
  const before = scanDisagreements();
  const js = outcome('js', endpoint, raw);
  expect(outcome('native', endpoint, raw)).toEqual(js);
  expect(scanDisagreements()).toBe(before);
  if (js && typeof js === 'object' && !('refused' in js)) {
    const c = read('native', endpoint, raw);
    const expected = reserialised(read('js', endpoint, raw));
    EDITS.forEach(([m, max], i) => expect(normalised(upstreamBody(c, m ?? c.model, max))).toEqual(expected[i]));
  }
}

describe.runIf(PATHS.includes('native'))('native scanner = JavaScript path (property)', () => {
  it('on the estimate suite\'s call bodies, spelled every way', () => {
    const anyBody = fc.constantFrom(...ENDPOINTS).chain((e) => fc.tuple(fc.constant(e), bodies[e].body, fc.integer()));
    fc.assert(fc.property(anyBody, ([endpoint, body, seed]) => agree(endpoint, Buffer.from(spell(body, rng(seed), 0)))), { numRuns: 300 });
  });

  it('on odd bodies: wrong types, escapes, unicode, huge numbers, repeated keys', () => {
    fc.assert(fc.property(fc.constantFrom(...ENDPOINTS), oddBody, fc.integer(), (endpoint, body, seed) => {
      agree(endpoint, Buffer.from(spell(body, rng(seed), 30)));
    }), { numRuns: 1500 });
  });

  it('on hostile bytes: truncated, flipped, bad UTF-8, deep nesting, a BOM', () => {
    fc.assert(fc.property(fc.constantFrom(...ENDPOINTS), oddBody, fc.integer(), (endpoint, body, seed) => {
      const r = rng(seed);
      agree(endpoint, hostile(spell(body, r, 10), r));
    }), { numRuns: 1500 });
  });

  it('on nesting around the depth limit, under walked and steering fields', () => {
    fc.assert(fc.property(fc.integer({ min: 55, max: 75 }), fc.constantFrom('messages', 'metadata', 'tools', 'input', 'prediction'), fc.integer(), (depth, field, seed) => {
      const r = rng(seed);
      const inner = ['1', '"t"', '{"type":"image_url","image_url":{"url":[[[[1]]]]}}', '[]', '{}', '[1,[2]]'][r(6)]!;
      agree('chat', Buffer.from(`{"model":"gpt-4o","messages":[],"${field}":${nest(depth, inner, r)}}`));
    }), { numRuns: 300 });
  });
});

describe.runIf(PATHS.includes('native'))('whole JSON answers: native = JavaScript (property)', () => {
  // Counts the scanner reads itself when plain (any other spelling goes to JSON.parse): every protocol's keys, odd values among them.
  const count = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -1, max: 200_000_000 }), hugeNumber, scalar);
  const usage = fc.oneof(
    fc.record({ prompt_tokens: count, completion_tokens: count, total_tokens: count, prompt_tokens_details: fc.oneof(fc.record({ cached_tokens: count, audio_tokens: count }, { requiredKeys: [] }), scalar), completion_tokens_details: value }, { requiredKeys: [] }),
    fc.record({ input_tokens: count, output_tokens: count, input_tokens_details: fc.oneof(fc.record({ cached_tokens: count }, { requiredKeys: [] }), scalar, value) }, { requiredKeys: [] }),
    fc.record({ input_tokens: count, output_tokens: count, cache_read_input_tokens: count, cache_creation_input_tokens: count, cache_creation: fc.oneof(fc.record({ ephemeral_1h_input_tokens: count, ephemeral_5m_input_tokens: count }, { requiredKeys: [] }), scalar) }, { requiredKeys: [] }),
    value,
  );
  const answer = fc.record({ id: fc.string(), model: fc.oneof(fc.constantFrom('gpt-4o-2024-08-06', 'claude-x'), scalar), choices: fc.array(value, { maxLength: 2 }), usage, content: value }, { requiredKeys: [] });
  it('agree on validity, usage and model, on valid and broken answers', () => {
    fc.assert(fc.property(fc.constantFrom<TokenEndpoint>(...ENDPOINTS), answer, fc.integer(), (endpoint, a, seed) => {
      const r = rng(seed);
      const text = spell(a, r, 40);
      // Answers are read leniently (bad UTF-8 becomes U+FFFD), so mutations test that too.
      const raw = r(3) === 0 ? hostile(text, r) : Buffer.from(text);
      const js = readJsonAnswerJs(endpoint, raw);
      const native = readJsonAnswerNative(endpoint, raw, addon!);
      expect({ valid: native.valid, reported: native.reported }).toEqual({ valid: js.valid, reported: js.reported });
      expect(native.json()).toEqual(js.json());
    }), { numRuns: 1500 });
  });
});

// The scanner's fast paths (docs/architecture.md, "Native request scanner"): plain string content
// skipped 16 bytes at a time, and words taken whole from the raw bytes. Each must stop, price and
// refuse exactly where the byte-at-a-time walk does, wherever a 16-byte block starts or ends.
describe.runIf(PATHS.includes('native'))('native fast paths = JavaScript path', () => {
  const listed = wordTable().words.filter((w) => w.length <= 18);
  const body = (content: string, pad = 0) => Buffer.from(`{"model":"gpt-4o",${' '.repeat(pad)}"messages":[{"role":"user","content":"${content}"}]}`);
  const bytes = (before: string, mid: Buffer, after: string, pad = 0) => {
    const b = body('\u0000', pad);
    const at = b.indexOf(0);
    return Buffer.concat([b.subarray(0, at), Buffer.from(before), mid, Buffer.from(after), b.subarray(at + 1)]);
  };

  it('a quote, backslash, escape, control or non-ASCII byte at every offset of a long ASCII run', () => {
    const stops = ['\\"', '\\\\', '\\n', '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\ud800', 'é', '中', '😀', '\u007f', ' ', '  ', '.', '7'];
    const run = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ klmnopq';
    for (let pad = 0; pad < 16; pad++) {
      for (let at = 0; at <= 34; at++) {
        for (const stop of stops) agree('chat', body(run.slice(0, at) + stop + run.slice(at), pad));
      }
    }
  });

  it('refuses a raw control byte or invalid UTF-8 at every offset of a long ASCII run', () => {
    const bad = [[0x01], [0x1f], [0x80], [0xff], [0xc0, 0xaf], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]];
    const run = 'the quick brown fox jumps over the lazy dog ';
    for (let pad = 0; pad < 16; pad += 3) {
      for (let at = 0; at <= run.length; at++) {
        for (const b of bad) {
          const raw = bytes(run.slice(0, at), Buffer.from(b), run.slice(at), pad);
          expect(outcome('native', 'chat', raw)).toHaveProperty('refused');
          agree('chat', raw);
        }
      }
    }
  });

  it('listed words in every form and length, crossing 16-byte blocks, before every kind of next character', () => {
    const next = ['', ' ', '  ', ',', '.', '7', 'X', 'x', '\\u0061', '\\u0041', '\\n', '\\t', 'é', '😀', '-', "'"];
    const r = rng(14);
    for (let k = 0; k < 1500; k++) {
      const w = listed[r(listed.length)]!;
      const form = [w, w[0]!.toUpperCase() + w.slice(1), w.toUpperCase(), w + w][r(4)]!;
      const lead = ['', ' ', '  ', '\\n', '1', '(', 'é', 'a', 'A'][r(9)]!;
      const filler = 'x'.repeat(r(20)) + ' '.repeat(r(2));
      agree('chat', body(`${filler}${lead}${form}${next[r(next.length)]}${r(2) ? ' ' + listed[r(listed.length)] : ''}`, r(16)));
    }
  });

  it('chains of words, numbers and punctuation after a word, with an odd byte anywhere in their 64-byte windows', () => {
    // Walk::chain takes " word", " Word,", " 12345;", " -" by 64-byte windows and hands anything else back to the walk.
    const tokens = ['the', 'Order', 'shipped,', '48213', 'days;', '-', 'tracking.', 'Monday', 'a', 'I', 'extraordinarily', 'internationalization', 'x1', 'zqxv', 'zqxv!', '1a', "it's", '12345678901', 'ok)', '~'];
    const odd = ['', '  ', '\\n', '\\u0041', '\\"', 'é', '(', ',,', 'X', '7', "'", 'a1'];
    const r = rng(41);
    for (let k = 0; k < 800; k++) {
      const text = Array.from({ length: 15 + r(40) }, () => tokens[r(tokens.length)]!).join(' ');
      const at = r(text.length + 1);
      agree('chat', body(`${text.slice(0, at)}${odd[r(odd.length)]}${text.slice(at)}`, r(16)));
    }
  });

  it('ASCII digits beside non-ASCII number characters, raw and as \\u escapes, in chains and alone', () => {
    // A non-ASCII character may share the digits' group of three (text-tokens.ts, "Digits"): the walk
    // prices that for raw bytes and escapes alike, and the chain's " 12345;" never reaches one.
    const numbers = ['\u0660', '\u06f5', '\u0967', '\uff19', '\u00b2', '\u00bd', '\u2473', '\u{1d7ce}', '\u{1e950}', '\u20ac', '\u5e74', '\u00e9'];
    const escaped = (ch: string) => Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
    const tokens = ['the', 'Order', 'shipped,', '48213', '7', '12', '123', '2024;', 'days;', '-', 'tracking.', '12345678901'];
    const r = rng(57);
    for (let k = 0; k < 1500; k++) {
      const parts = Array.from({ length: 10 + r(30) }, () => tokens[r(tokens.length)]!);
      const text = parts.join(' ');
      const at = r(text.length + 1);
      const ch = numbers[r(numbers.length)]!;
      const spelled = r(2) ? ch : escaped(ch);
      const digits = '0123456789'.slice(0, r(8));
      agree('chat', body(`${text.slice(0, at)}${spelled}${digits}${r(2) ? spelled : ''}${text.slice(at)}`, r(16)));
    }
  });

  it('prose, code and letter runs of 1 to 40 letters, spelled at random', () => {
    const pieces = fc.oneof(
      fc.constantFrom(...listed.slice(0, 3000)),
      fc.stringMatching(/^[a-z]{1,40}$/),
      fc.stringMatching(/^[A-Z][a-z]{0,20}$/),
      fc.constantFrom(' ', ' ', '  ', '\n', '\t', ', ', '. ', '; ', '123', '4567', '(', ')', '`', '"', '\\', 'é', '中文', '😀', '\ud800', 'x\u0301'),
    );
    fc.assert(fc.property(fc.array(pieces, { maxLength: 60 }), fc.integer(), (parts, seed) => {
      const r = rng(seed);
      const text = parts.join(r(3) ? ' ' : '');
      agree('chat', Buffer.from(spell({ model: 'gpt-4o', messages: [{ role: 'user', content: text }], metadata: { [text.slice(0, 20)]: text } }, r, 0)));
      agree('messages', Buffer.from(spell({ model: 'claude-sonnet-4-5', max_tokens: 9, messages: [{ role: 'user', content: [{ type: 'text', text }] }] }, r, 0)));
    }), { numRuns: 600 });
  });
});
