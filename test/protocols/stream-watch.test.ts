import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { EndpointId } from '../../src/protocols/call.js';
import { eventEnd, SseScanner } from '../../src/protocols/sse.js';
import { StreamTracker } from '../../src/protocols/stream-tracker.js';
import { StreamWatch } from '../../src/protocols/stream-watch.js';

// The relay reads streams as bytes (stream-relay.ts): SseScanner finds whole
// events in upstream chunks cut anywhere, and StreamWatch parses only the
// events that can matter. Both must agree with reading every event as text
// (StreamTracker on each event, split the way the SSE spec splits lines):
// same events, same verdicts, same usage, model and text, for any chunking.

const sse = (j: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(j)}\n\n`;

/** The reference: the whole stream as text, CR/CRLF read as LF, split at blank lines. */
function referenceEvents(stream: string): string[] {
  const text = stream.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n', start)) {
    out.push(text.slice(start, i + 2));
    start = i + 2;
  }
  return out;
}

/** The stream cut at `cuts` (byte offsets), through the scanner: every whole event as text. */
function scanned(bytes: Buffer, cuts: number[]): string[] {
  const scanner = new SseScanner();
  const out: string[] = [];
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    const events = scanner.push(bytes.subarray(prev, c));
    for (let s = 0; s < events.length; s = eventEnd(events, s)) out.push(events.toString('utf8', s, eventEnd(events, s)));
    prev = c;
  }
  return out;
}

const FORWARD = { forward: true, terminal: false };

/**
 * Verdicts, usage, model and text of the stream read by the watch (bytes) and by the tracker (every event as text).
 * `skipping`: as the relay reads it, the events skip() passes over taken as forwarded without an inspect().
 */
function bothWays(endpoint: EndpointId, stream: string | Buffer, cuts: number[], wantsUsage = false, skipping = false) {
  const tracker = new StreamTracker(endpoint, wantsUsage);
  // Bytes (invalid UTF-8 included) are read as text the way Buffer#toString reads them.
  const expected = referenceEvents(stream.toString()).map((e) => tracker.inspect(e));
  const watch = new StreamWatch(endpoint, wantsUsage);
  const scanner = new SseScanner();
  const bytes = Buffer.isBuffer(stream) ? stream : Buffer.from(stream);
  const verdicts = [];
  let prev = 0;
  for (const c of [...[...new Set(cuts.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b), bytes.length]) {
    const events = scanner.push(bytes.subarray(prev, c));
    watch.scan(events);
    for (let s = 0; s < events.length; ) {
      const next = skipping ? watch.skip(events, s) : s;
      if (next > s) {
        for (; s < next; s = eventEnd(events, s)) verdicts.push(FORWARD);
        continue;
      }
      verdicts.push(watch.inspect(events, s, eventEnd(events, s)));
      s = eventEnd(events, s);
    }
    prev = c;
  }
  return {
    watch: { verdicts, usage: watch.usage, model: watch.model, text: watch.text, textComplete: watch.textComplete },
    tracker: { verdicts: expected, usage: tracker.usage, model: tracker.model, text: tracker.text, textComplete: tracker.textComplete },
  };
}

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });
/** A seed for escapeKeys or reshape: often 0 (the stream as it is). */
const seedArb = fc.oneof(fc.constant(0), fc.nat());

/**
 * The stream with some of its JSON object keys spelled with a \u escape (one
 * letter of each, chosen by `seed`; the key JSON.parse reads is the same):
 * what the watch's byte searches for "usage" and "model" cannot see.
 */
function escapeKeys(text: string, seed: number): string {
  let k = 0;
  return text.replace(/"([A-Za-z_][A-Za-z0-9_]*)"(?=[ \t]*:)/g, (m, key: string) => {
    const n = k++;
    return ((seed >>> (n % 31)) & 1) === 0 ? m : `"${escapeOne(key, seed + n)}"`;
  });
}

/** A JSON string's one letter (chosen by `at`) spelled as a \u escape. */
const escapeOne = (t: string, at: number) => `${t.slice(0, at % t.length)}\\u${t.charCodeAt(at % t.length).toString(16).padStart(4, '0')}${t.slice((at % t.length) + 1)}`;

/**
 * The stream with what the watch's bytes cannot show, event by event as
 * `seed` picks (0: none): a "usage" or "model" key's colon or value moved to
 * the next data line (the parse joins the lines), a second "model" after the
 * first (JSON.parse keeps it), and no event: line with the data's "type"
 * values spelled with an escape (the tracker then takes the type from there).
 */
function reshape(text: string, seed: number): string {
  if (!seed) return text;
  return referenceEvents(text).map((ev, n) => {
    const bit = (k: number) => ((seed >>> ((n * 5 + k) % 31)) & 1) === 1;
    if (bit(0)) ev = ev.replace(/(^|\n)event:[^\n]*\n/, '$1');
    if (bit(1)) ev = ev.replace(/"type":"([^"\\]+)"/g, (_, t: string) => `"type":"${escapeOne(t, seed + n)}"`);
    if (bit(2)) ev = ev.replace(/"(usage|model)"[ \t]*:/g, (_, k: string) => (bit(3) ? `"${k}"\ndata: :` : `"${k}":\ndata: `));
    if (bit(4)) ev = ev.replace(/"model":"([^"\\]*)"/, '"model":"$1","model":"$1-2"');
    return ev;
  }).join('');
}

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
const recorded: Partial<Record<EndpointId, string[]>> = {};

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0, completionTokens: 12 });
  const get = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x', 'x-api-key': 'x', ...headers }, body: JSON.stringify(body) });
    return r.text();
  };
  const messages = [{ role: 'user', content: 'hello there' }];
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
  recorded.chat = [
    await get('/v1/chat/completions', { model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } }),
    await get('/v1/chat/completions', { model: 'gpt-4o-mini', messages, stream: true }),
    await get('/v1/chat/completions', { model: 'gpt-4o-mini', messages, stream: true, tools, stream_options: { include_usage: true } }),
  ];
  recorded.responses = [await get('/v1/responses', { model: 'gpt-4o-mini', input: 'hello', stream: true })];
  recorded.messages = [
    await get('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 50, messages, stream: true }),
    await get('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 5, messages, stream: true }),
  ];
});
afterAll(() => mock?.close());

describe('SseScanner', () => {
  const streams = [
    'data: a\n\ndata: b\n\n',
    'data: a\n\n\ndata: b\n\n\n\ndata: c\n\npartial',
    ': keep-alive\n\nevent: x\r\ndata: {"a":"é€😀"}\r\n\r\ndata: [DONE]\r\n\r\n',
    '\uFEFFdata: a\r\rdata: b\r\r',
    'data: one\n\ndata: two\ndata: more\n\n',
  ];
  it('finds the same whole events as reading the stream as text, however it is cut', () => {
    fc.assert(fc.property(fc.constantFrom(...streams), cutsArb, (s, cuts) => {
      expect(scanned(Buffer.from(s), cuts)).toEqual(referenceEvents(s));
    }), { numRuns: 400 });
  });

  it('hands back the chunk itself when it ends on an event boundary (nothing copied)', () => {
    const chunk = Buffer.from('data: a\n\ndata: b\n\n');
    expect(new SseScanner().push(chunk)).toBe(chunk);
  });

  it('refuses an event larger than its bound, however it is cut', () => {
    const scanner = new SseScanner(64);
    expect(() => {
      for (let i = 0; i < 10; i++) scanner.push(Buffer.from('data: xxxxxxxxxxxx'));
    }).toThrow(/larger than 64 bytes/);
  });
});

describe('StreamWatch', () => {
  for (const endpoint of ['chat', 'responses', 'messages'] as const) {
    it(`reads ${endpoint} streams of the mock like the tracker reading every event`, () => {
      for (const stream of recorded[endpoint]!) {
        // Sometimes with keys spelled with escapes, and reshaped (seed 0: neither).
        fc.assert(fc.property(cutsArb, fc.boolean(), fc.boolean(), seedArb, seedArb, (cuts, wantsUsage, skipping, seed, shape) => {
          const r = bothWays(endpoint, escapeKeys(reshape(stream, shape), seed), cuts, wantsUsage, skipping);
          expect(r.watch).toEqual(r.tracker);
        }), { numRuns: 50 });
      }
    });
  }

  it('parses the events that can matter even when they hide from a quick look', () => {
    const head = { id: 'c1', object: 'chat.completion.chunk', created: 1 };
    const stream = [
      sse({ ...head, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'says "usage": {} and message_stop and [DONE]' } }], usage: null }),
      `data: {"model" : "gpt-4o-2024", "choices":[{"index":0,"delta":{"content":"spaced"}}]}\n\n`,
      sse({ ...head, model: 'gpt-4o-2024', choices: [{ index: 0, delta: { content: 'same model' } }] }),
      `data: {"model":"gpt-\\u0034o","choices":[{"index":0,"delta":{"content":"escaped"}}]}\n\n`,
      sse({ ...head, model: 'gpt-4o-2024', choices: [{ index: 0, delta: { content: 'back' } }] }),
      'data: {not json\n\n',
      `data: {"choices":[],"usage" : \t{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n`,
      'data: [DONE]\n\n',
    ].join('');
    for (const [wantsUsage, skipping] of [[false, false], [true, false], [false, true], [true, true]]) {
      const r = bothWays('chat', stream, [], wantsUsage, skipping);
      expect(r.watch).toEqual(r.tracker);
      expect(r.watch.model).toBe('gpt-4o-2024');
      expect(r.watch.usage).toMatchObject({ promptTokens: 3, completionTokens: 4 });
      expect(r.watch.verdicts.at(-2)).toEqual({ forward: wantsUsage, terminal: false });
      expect(r.watch.verdicts.at(-1)).toEqual({ forward: true, terminal: true });
    }
  });

  it('reads a chat event\'s model and usage without parsing it whole as parsing it whole reads them, whatever the event holds', () => {
    // Events the tracker reads differently from a plain one: each must get the verdict, usage and model JSON.parse gives.
    const usage = '{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1}}';
    const odd = [
      `data: {"model":"m-1","choices":[],"usage":${usage}}\n\n`,
      `data:{"model":"m-2","choices":[],"usage":${usage}}\n\n`,
      `data:  {"model":"m-3","choices":[],"usage":${usage}}  \n\n`,
      `data: {"model":"m-4","usage":${usage},"usage":null,"choices":[]}\n\n`,
      `data: {"usage":null,"model":"m-5","usage":{"prompt_tokens":9,"completion_tokens":"2"},"model":"m-6"}\n\n`,
      `data: {"model":7,"usage":0,"choices":[]}\n\n`,
      `data: {"model":"m-8","usage":"","choices":[]}\n\n`,
      `data: {"model":"m-9","usage":false}\n\n`,
      `data: {"model":"m-10","usage":[1],"choices":[]}\n\n`,
      `data: {"model":"m-11","usage":{"prompt_tokens":-1,"completion_tokens":1e3,"prompt_tokens_details":null}}\n\n`,
      `data: {"model":"m-\\ud800","usage":{"prompt_tokens":2,"completion_tokens":2}}\n\n`,
      `data: {"model":"m-\xff\xfe","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n`,
      `data: {"model":"m-\u00e9\u20ac\ud83d\ude00","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5}}\n\n`,
      `data: {"model":"m-12","usage":{"prompt_tokens":2,"completion_tokens":3}} x\n\n`,
      `data: {"model":"m-13","usage":{"prompt_tokens":2,"completion_tokens":3}\n\n`,
      `data: ["model","usage"]\n\n`,
      `data: "usage"\n\n`,
      `data: {"model":"m-14",\ndata: "usage":{"prompt_tokens":5,"completion_tokens":6}}\n\n`,
      `id: 1\ndata: {"model":"m-15","usage":{"prompt_tokens":5,"completion_tokens":7}}\n\n`,
      `data: {"choices":[{"delta":{"model":"m-16"}}],"usage":{"prompt_tokens":5,"completion_tokens":8}}\n\n`,
      `data: {"model":"m-17","choices":[{"index":0}],"usage":{"prompt_tokens":4,"completion_tokens":4}}\n\n`,
      `data:\n\n`,
      `data: [DONE] \n\n`,
      // Keys spelled with escapes (escapeKeys below spells more), one split from its colon by a line end, and escapes in values only.
      `data: {"model":"m-18","choices":[],"us\\u0061ge":{"prompt_tokens":6,"completion_tokens":2}}\n\n`,
      `data: {"model":"m-19","choices":[],"us\\u0061ge"\ndata: :{"prompt_tokens":6,"completion_tokens":3}}\n\n`,
      `event: x"\ndata: {"model":"m-20","choices":[],"\\u0075sage" :{"prompt_tokens":6,"completion_tokens":4}}\n\n`,
      `data: {"mod\\u0065l":"m-21","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}\n\n`,
      `data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"w"}}],"mod\\u0065l":"m-22"}\n\n`,
      `data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"caf\\u00e9 \\"x\\": \\\\\\n"}}],"usage":null}\n\n`,
      // Keys split from their colon or value across data lines (reshape below splits more), and a second "model".
      `data: {"model":"m-23","choices":[],"usage"\ndata: :{"prompt_tokens":6,"completion_tokens":5}}\n\n`,
      `data: {"choices":[],"usage" \n:null\ndata: :{"prompt_tokens":6,"completion_tokens":6}}\n\n`,
      `data: {"model"\ndata: :"m-24","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n`,
      `data: {"model":\ndata: "m-25","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n`,
      `data: {"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"x"}}],"model":"m-26"}\n\n`,
      `data: {"object":"model","model":"m-27","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n`,
    ];
    const plain = sse({ id: 'c', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'word' } }], usage: null });
    const part = fc.tuple(fc.constantFrom(...odd, plain), seedArb, seedArb).map(([event, seed, shape]) => escapeKeys(reshape(event, shape), seed));
    fc.assert(fc.property(fc.array(part, { minLength: 1, maxLength: 8 }), cutsArb, fc.boolean(), fc.boolean(), (parts, cuts, wantsUsage, skipping) => {
      const r = bothWays('chat', parts.join('') + 'data: [DONE]\n\n', cuts, wantsUsage, skipping);
      expect(r.watch).toEqual(r.tracker);
    }), { numRuns: 400 });
    // Bytes that are not UTF-8, in the model and around the usage: read as Buffer#toString reads them.
    const bad = (s: string) => Buffer.from(s.replace(/~/g, '\u0001'), 'latin1').map((c) => (c === 1 ? 0xff : c));
    const raw = Buffer.concat([
      bad(`data: {"model":"m-~a","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n`),
      Buffer.from([...Buffer.from('data: {"model":"m-'), 0xe2, 0x82, ...Buffer.from('","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3}}\n\n')]),
      bad(`data: {"model":"m-1","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":3}} ~\n\n`),
      bad(`data: {"model":"m-2","usage":{"prompt_tokens":5,"completion_tokens":3},"x":"~"}\n\n`),
      Buffer.from('data: [DONE]\n\n'),
    ]);
    for (const wantsUsage of [false, true]) {
      for (const skipping of [false, true]) {
        const r = bothWays('chat', raw, [], wantsUsage, skipping);
        expect(r.watch).toEqual(r.tracker);
        expect(r.watch.model).toBe('m-2');
      }
    }
  });

  describe('reads what the bytes of a chat event cannot show, as the tracker reads it', () => {
    const head = '"id":"c1","object":"chat.completion.chunk","created":1';
    const word = (w: string, model = 'gpt-4o-mini') => `data: {${head},"model":"${model}","choices":[{"index":0,"delta":{"content":"${w}"}}],"usage":null}\n\n`;
    const usage = '{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}';
    const ways = [[false, false], [true, false], [false, true], [true, true]];
    it.each([
      ['with its colon on the next data line', `data: {${head},"choices":[],"usage"\ndata: :${usage}}\n\n`],
      ['with its value on the next data line', `data: {${head},"choices":[],"usage":\ndata: ${usage}}\n\n`],
      // A comment line between: ":null" is no value of the data's.
      ['with its colon on the next data line, after a comment line', `data: {${head},"choices":[],"usage" \n:null\ndata: :${usage}}\n\n`],
      // {"us\u0061ge":…} is "usage" to JSON.parse, unseen by the byte search.
      ['spelled with escapes', `data: {${head},"model":"gpt-4o-mini","choices":[],"us\\u0061ge":${usage}}\n\n`],
      ['spelled with escapes, its colon on the next data line', `data: {${head},"model":"gpt-4o-mini","choices":[],"us\\u0061ge" \ndata: :${usage}}\n\n`],
    ])('a "usage" key %s', (_, chunk) => {
      for (const [wantsUsage, skipping] of ways) {
        const u = bothWays('chat', word('a') + chunk + 'data: [DONE]\n\n', [], wantsUsage, skipping);
        expect(u.watch).toEqual(u.tracker);
        expect(u.watch.usage).toMatchObject({ promptTokens: 3, completionTokens: 4 });
        expect(u.watch.verdicts[1]).toEqual({ forward: wantsUsage, terminal: false });
      }
    });
    it.each([
      ['with its colon on the next data line', `data: {${head},"model"\ndata: :"gpt-4o-2024","choices":[{"index":0,"delta":{"content":"b"}}]}\n\n`],
      ['with its value on the next data line', `data: {${head},"model": \ndata: "gpt-4o-2024","choices":[{"index":0,"delta":{"content":"b"}}]}\n\n`],
      // The first "model" is the one known, the second the one JSON.parse keeps.
      ['twice, the known one first', `data: {${head},"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"b"}}],"model":"gpt-4o-2024"}\n\n`],
      ['after a "model" that is no key', `data: {${head},"object":"model","model":"gpt-4o-2024","choices":[{"index":0,"delta":{"content":"b"}}]}\n\n`],
      ['spelled with escapes', `data: {${head},"mod\\u0065l":"gpt-4o-2024","choices":[{"index":0,"delta":{"content":"b"}}],"usage":null}\n\n`],
    ])('a "model" key %s', (_, named) => {
      for (const [wantsUsage, skipping] of ways) {
        const m = bothWays('chat', word('a') + named, [], wantsUsage, skipping);
        expect(m.watch).toEqual(m.tracker);
        expect(m.watch.model).toBe('gpt-4o-2024');
        const back = bothWays('chat', word('a') + named + word('c'), [], wantsUsage, skipping);
        expect(back.watch).toEqual(back.tracker);
        expect(back.watch.model).toBe('gpt-4o-mini');
      }
    });
  });

  it('reads a Responses or Messages event with no event: line whose type is spelled with escapes, as the tracker reads it', () => {
    const streams = {
      messages: [
        sse({ type: 'message_start', message: { model: 'claude-x', usage: { input_tokens: 5, output_tokens: 1 } } }, 'message_start'),
        sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a\nb' } }, 'content_block_delta'),
        `data: {"type":"message\\u005fdelta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}\n\n`,
        `event:\ndata: {"type":"message\\u005fstop"}\n\n`,
      ],
      responses: [
        sse({ type: 'response.output_text.delta', output_index: 0, content_index: 0, delta: 'a\nb' }, 'response.output_text.delta'),
        `data: {"type":"response.complete\\u0064","response":{"model":"gpt-4o-2024","usage":{"input_tokens":5,"output_tokens":9,"total_tokens":14}}}\n\n`,
      ],
    };
    for (const [endpoint, events] of Object.entries(streams) as [EndpointId, string[]][]) {
      for (const skipping of [false, true]) {
        const r = bothWays(endpoint, events.join(''), [], false, skipping);
        expect(r.watch).toEqual(r.tracker);
        expect(r.watch.verdicts.at(-1)).toEqual({ forward: true, terminal: true });
        expect(r.watch.usage).toMatchObject({ promptTokens: 5, completionTokens: 9 });
      }
    }
  });

  it('does not parse an event for escapes in its values only', () => {
    // Text deltas are full of escapes; only the first event (its model not known yet) is parsed.
    const events = Buffer.from([
      sse({ id: 'c1', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'a' } }], usage: null }),
      `data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"caf\\u00e9 \\"x\\":\\n"}}],"usage":null}\n\n`,
      sse({ id: 'c1', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'tab\there "q": \\' }, finish_reason: null }], usage: null }),
    ].join(''));
    const watch = new StreamWatch('chat', false);
    watch.scan(events);
    const verdicts = [];
    for (let s = 0; s < events.length; s = eventEnd(events, s)) verdicts.push(watch.inspect(events, s, eventEnd(events, s)));
    expect(verdicts).toEqual([FORWARD, FORWARD, FORWARD]);
    expect(watch.tracker.text).toBe('a'); // the text of the events the watch's tracker parsed
    expect(watch.text).toBe('acafé "x":\ntab\there "q": \\');
  });

  it('keeps the text of a long stream within the tracker\'s bound', () => {
    const word = sse({ choices: [{ index: 0, delta: { content: 'x'.repeat(1000) } }] });
    const stream = word.repeat(3000) + 'data: [DONE]\n\n';
    const r = bothWays('chat', stream, [1 << 20, 2 << 20]);
    expect(r.watch.text.length).toBe(r.tracker.text.length);
    expect(r.watch.text).toBe(r.tracker.text);
  });
});

describe('StreamWatch keeping a read chunk by chunk', () => {
  const words = Array.from({ length: 40 }, (_, i) => sse({ choices: [{ index: 0, delta: { content: `w${i} ` } }] }));

  it('has the text of exactly the chunks reached, however often the text is read on the way', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), fc.nat(40), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), (cuts, reach, reads) => {
      // One read's events, in chunks that end at event edges; the relay keeps them up to each chunk it reaches.
      const events = Buffer.from(words.join(''));
      const edges = [...new Set([...cuts, 40])].sort((a, b) => a - b).map((n) => Buffer.byteLength(words.slice(0, n).join('')));
      const watch = new StreamWatch('chat', true);
      watch.scan(events, 0);
      let reached = 0;
      for (const [c, to] of edges.entries()) {
        if (to > Buffer.byteLength(words.slice(0, reach).join('')) && reached) break;
        watch.keep(events, to);
        reached = to;
        if (reads[c]) void watch.text; // a count of the text so far (the hold's)
      }
      const expected = new StreamTracker('chat', true);
      for (let s = 0; s < reached; s = eventEnd(events, s)) expected.inspect(events.toString('utf8', s, eventEnd(events, s)));
      expect(watch.text).toBe(expected.text);
    }));
  });
});
