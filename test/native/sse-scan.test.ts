import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativePath } from '../../src/native/native-addon.js';
import { StreamWatch } from '../../src/protocols/stream-watch.js';
import { StreamTracker } from '../../src/protocols/stream-tracker.js';

// The addon's scanSse against the rules of StreamWatch's JavaScript searches
// (src/protocols/stream-watch.ts), written out here once more over the
// whole buffer: per event its end, whether a trigger starts in it (a chat
// "usage" counts unless its value is null; on Responses and Messages a
// backslash counts when no event: line names the type), its first
// "model" key's string value (plain, or for the parser: escaped, not closed
// within the event, on another line, or followed by a second "model"), and
// its text bound (sse_scan.cc textBound: the raw bytes of the text keys'
// string values, or the event's size when a key may hide). The rules are
// byte searches: a needle counts wherever its bytes are (in a string value,
// overlapping another), which the scan must find in one walk.

const ENDPOINTS = { chat: 0, responses: 1, messages: 2 } as const;
const TRIGGERS = {
  chat: ['[DONE]'],
  responses: ['[DONE]', 'response.completed', 'response.incomplete', 'response.failed', 'response.created'],
  messages: ['[DONE]', 'message_start', 'message_delta', 'message_stop'],
};

/** Past blanks, a colon and blanks: -1 when no colon, -2 when a line ends first (the rest is on the next data line). */
function valueAt(b: Buffer, i: number): number {
  while (b[i] === 0x20 || b[i] === 0x09) i++;
  if (b[i] === 0x0a) return -2;
  if (b[i] !== 0x3a) return -1;
  i++;
  while (b[i] === 0x20 || b[i] === 0x09) i++;
  return b[i] === 0x0a ? -2 : i;
}

/** Responses, messages: the type may come from the data (no event: line, a blank one, or several). */
function typeFromData(ev: Buffer): boolean {
  const lines = ev.toString('latin1').split('\n').filter((l) => l.startsWith('event:'));
  return lines.length !== 1 || !/[\x21-\x7e]/.test(lines[0]!.slice(6));
}

/** A JSON string holding a backslash and followed by a colon (or a line's end) in ev: a key spelled with escapes; strings walked line by line. */
function escapedKey(ev: Buffer): boolean {
  for (const line of ev.toString('latin1').split('\n')) {
    for (const m of line.matchAll(/"((?:[^"\\]|\\.?)*)("|$)/g)) {
      if (m[2] === '"' && m[1]!.includes('\\') && /^[ \t]*(:|$)/.test(line.slice(m.index! + m[0].length))) return true;
    }
  }
  return false;
}

/** The keys whose string values are the event's text (sse_scan.cc), searched anywhere in it. */
const TEXT_KEYS = { chat: ['"content"', '"arguments"'], responses: ['"delta"'], messages: ['"text"', '"partial_json"', '"thinking"'] };

/** The event ev's text bound: its size when its data is on several lines or it holds "\u", else its text keys' string values' raw bytes. */
function textBound(ev: Buffer, endpoint: keyof typeof ENDPOINTS): number {
  let lines = ev.subarray(0, 5).toString('latin1') === 'data:' ? 1 : 0;
  for (let i = ev.indexOf('\ndata:'); i >= 0; i = ev.indexOf('\ndata:', i + 1)) lines++;
  if (lines > 1 || ev.includes('\\u')) return ev.length;
  let sum = 0;
  for (const key of TEXT_KEYS[endpoint]) {
    for (let i = ev.indexOf(key); i >= 0; i = ev.indexOf(key, i + 1)) {
      const v = valueAt(ev, i + key.length);
      if (v < 0 || ev[v] !== 0x22) continue;
      let j = v + 1;
      while (j < ev.length && ev[j] !== 0x22) j += ev[j] === 0x5c ? 2 : 1;
      sum += Math.min(j, ev.length) - (v + 1);
    }
  }
  return sum;
}

/** Per event from `from` (an event's start): its five slots (sse_scan.h). */
function reference(b: Buffer, endpoint: keyof typeof ENDPOINTS, from = 0, max = Infinity): number[] {
  const out: number[] = [];
  for (let s = from; s < b.length && out.length < max * 5; ) {
    const blank = b.indexOf('\n\n', s);
    if (blank < 0) break;
    const e = blank + 2;
    const ev = b.subarray(s, e);
    let hit = TRIGGERS[endpoint].some((t) => ev.includes(t));
    if (endpoint === 'chat') {
      for (let i = b.indexOf('"usage"', s); i >= 0 && i < e; i = b.indexOf('"usage"', i + 1)) {
        const v = valueAt(b, i + 7);
        if (v === -2 || (v >= 0 && b.indexOf('null', v) !== v)) hit = true;
      }
    }
    if (endpoint !== 'chat' && ev.includes('\\') && typeFromData(ev)) hit = true;
    // A key spelled with escapes: parsed, and the model it may name unknown (as an escaped model value).
    const keyEscaped = escapedKey(ev);
    let flags = hit || keyEscaped ? 1 : 0;
    if (keyEscaped) flags |= 4;
    let ms = -1;
    let me = -1;
    const m = keyEscaped ? -1 : b.indexOf('"model"', s);
    if (m >= 0 && m < e) {
      const v = valueAt(b, m + 7);
      const second = b.indexOf('"model"', m + 1);
      if (v === -2 || (second >= 0 && second < e)) flags |= 4;
      else if (v >= 0 && v < e && b[v] === 0x22) {
        const to = b.indexOf('"', v + 1);
        if (to < 0 || to >= e || b.subarray(v + 1, to).includes('\\')) flags |= 4;
        else {
          flags |= 2;
          ms = v + 1;
          me = to;
        }
      }
    }
    out.push(e, flags, ms, me, textBound(ev, endpoint));
    s = e;
  }
  return out;
}

const PIECES = ['"usage"', '"model"', ':', ' ', '\t', '\n', 'null', 'nul', '"', '\\', '{', '}', '[DONE]', 'message_stop', 'response.created', 'x', '"gpt-4o"', 'data: ', 'u', 'm', '"us\\u0061ge"', '"a\\"b"', '\\n', '"x\\\\"', 'event:', 'event: ', '\nevent: x', '"model":"a"', '"type":"message\\u005fstop"'];
/**
 * Near misses and look-alikes of the needles (a key one byte short or long, escaped, a value and not a key, two
 * overlapping), the text keys, and chunk JSON's own words, full of the bytes the needles begin with.
 */
const NEAR = ['"usag"', '"usages"', '"models"', '"mode"', '"content_x"', '"contents"', '\\"usage\\"', '\\"model\\":\\"m\\"', '"x":"usage"}', '"usage"}', '"usage",', '"usage" :\t null', '"usage":nul', '"usage":\n',
  '"model"model"', '"usage"usage"', '"content"content":"x"', '"content"', '"arguments"', '"delta"', '"text"', '"partial_json"', '"thinking"', '"content":"', '"text":"a\\"b"', '"delta": "x\\\\"', '"arguments":\n',
  '"chatcmpl-1"', '"chat.completion.chunk"', '"choices"', '"created"', 'message_', 'message_delta', 'message_start', 'response.', 'response.completed', 'response.incomplete', 'response.failed', '[DON', 'DONE]',
  '\ndata:', '\ndata: ', 'data:', '\\u', '\\u00e9', 'é', '\n\n', 'c', 'a', 'r', 't', 'p', 'd'];

describe.runIf(nativePath.kind === 'native')('the native SSE scan', () => {
  const addon = nativePath.kind === 'native' ? nativePath.addon : undefined!;
  /** Per event its first four slots (the fifth, the text bound, is checked on its own below). */
  const scan = (b: Buffer, endpoint: keyof typeof ENDPOINTS, from = 0, max = 256) => scanAll(b, endpoint, from, max).filter((_, i) => i % 5 !== 4);
  /** The flags of a one-event batch. */
  const flags = (event: string, endpoint: keyof typeof ENDPOINTS = 'chat') => scan(Buffer.from(event), endpoint)[1];
  const scanAll = (b: Buffer, endpoint: keyof typeof ENDPOINTS, from = 0, max = 256) => {
    const out = new Int32Array(max * 5);
    const n = addon.scanSse(b, from, ENDPOINTS[endpoint], out);
    return [...out.subarray(0, n * 5)];
  };

  const endpointArb = fc.constantFrom('chat', 'responses', 'messages') as fc.Arbitrary<keyof typeof ENDPOINTS>;

  it('finds what the JavaScript searches find, event by event', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.constantFrom(...PIECES, ...NEAR), { maxLength: 12 }).map((p) => p.join('') + '\n\n'), { minLength: 1, maxLength: 6 }),
      endpointArb,
      (events, endpoint) => {
        const b = Buffer.from(events.join(''));
        expect(scanAll(b, endpoint)).toEqual(reference(b, endpoint));
      },
    ), { numRuns: 3000 });
  });

  // Streams shaped like the providers' (the mock's chunks: bench/mock-upstream.mjs), then edited at random places:
  // a needle or a near miss put anywhere (the buffer's first bytes, an event's last ones before its blank line,
  // inside a string value), a blank line put inside a key (one event ends in the middle of it), bytes dropped,
  // the end cut off (a last event without its blank line), the scan started at any event.
  const head = '{"id":"chatcmpl-mock1","object":"chat.completion.chunk","created":1764788000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[';
  const STREAMS = {
    chat: [
      `data: ${head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
      ...[0, 1, 2].map((i) => `data: ${head}{"index":0,"delta":{"content":" tok${i}"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`),
      `data: ${head}{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"x\\":1}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
      `data: ${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n`,
      `data: ${head}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}}\n\n`,
      'data: [DONE]\n\n',
    ],
    responses: [
      'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-4o-mini","output":[],"usage":null}}\n\n',
      ...[0, 1].map((i) => `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${i + 1},"item_id":"msg_1","output_index":0,"content_index":0,"delta":" tok${i}","logprobs":[]}\n\n`),
      'event: response.completed\ndata: {"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","status":"completed","model":"gpt-4o-mini","usage":{"input_tokens":7,"output_tokens":2,"total_tokens":9}}}\n\n',
    ],
    messages: [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":7,"output_tokens":1}}}\n\n',
      ...[0, 1].map((i) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" tok${i}"}}\n\n`),
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"x\\": 1"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"hm"}}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n',
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ],
  };
  const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'insert', 'blank', 'drop'), piece: fc.constantFrom(...PIECES, ...NEAR), drop: fc.integer({ min: 1, max: 9 }) });

  it('finds what the JavaScript searches find in provider-shaped streams edited anywhere', () => {
    fc.assert(fc.property(
      endpointArb, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.array(edit, { maxLength: 6 }), fc.option(fc.nat()), fc.nat(), fc.integer({ min: 1, max: 12 }),
      (endpoint, picks, edits, cut, fromPick, max) => {
        let text = picks.map((k) => STREAMS[endpoint][k % STREAMS[endpoint].length]).join('');
        for (const { at, kind, piece, drop } of edits) {
          const i = at % (text.length + 1);
          text = kind === 'drop' ? text.slice(0, i) + text.slice(i + drop) : text.slice(0, i) + (kind === 'blank' ? '\n\n' : piece) + text.slice(i);
        }
        const b = Buffer.from(cut === null ? text : text.slice(0, cut % (text.length + 1)));
        const starts = [0];
        for (let i = b.indexOf('\n\n'); i >= 0; i = b.indexOf('\n\n', i + 2)) starts.push(i + 2);
        const from = starts[fromPick % starts.length]!;
        expect(scanAll(b, endpoint, from, max)).toEqual(reference(b, endpoint, from, max));
      },
    ), { numRuns: 4000 });
  });

  it('finds a needle at the buffer\'s first bytes and its event\'s last ones, and none split by a blank line', () => {
    const cases: [string, keyof typeof ENDPOINTS][] = [
      ['"model":"m"\n\n', 'chat'], ['"usage":{}\n\n', 'chat'], ['[DONE]\n\n', 'chat'], ['"content":"ab"\n\n', 'chat'], ['x"content":"ab"\n\n', 'chat'],
      ['message_stop\n\n', 'messages'], ['"text":"abc"\n\n', 'messages'], ['response.failed\n\n', 'responses'], ['"delta":"a"\n\n', 'responses'],
      ['data: {"a":1,"usage":{}}\n\ndata: {"x":"[DONE]\n\n', 'chat'], ['data: x\n\n"model":"m","model"\n\n', 'chat'],
      ['data: {"mo\n\ndel":"m"}\n\n', 'chat'], ['data: {"us\n\nage":{}}\n\n', 'chat'], ['data: [DO\n\nNE]\n\n', 'chat'], ['message_st\n\nop\n\n', 'messages'], ['\n\n"con\n\ntent":"x"\n\n', 'chat'],
      ['data: {"usage":null}\n\ndata: {"x":"usage"}\n\ndata: {"x":"\\"usage\\":{}"}\n\n', 'chat'], ['data: {"usag":{},"models":"m","content_x":"abc"}\n\n', 'chat'],
    ];
    for (const [text, endpoint] of cases) {
      const b = Buffer.from(text);
      expect([text, scanAll(b, endpoint)]).toEqual([text, reference(b, endpoint)]);
    }
    // A "usage" at its event's end (a line end before any colon: a hit, as its value may be on the next data line),
    // and the next event's colon is its own.
    expect(scanAll(Buffer.from('"usage"\n\n:{}\n\n'), 'chat')).toEqual([9, 1, -1, -1, 0, 14, 0, -1, -1, 0]);
    expect(flags('data: {"x":"usage"}\n\n')).toBe(0); // a "usage" string value: no colon follows
    expect(flags('data: {"x":"\\"usage\\":{}"}\n\n')).toBe(0); // \"usage\" inside a value: not the needle's bytes
    expect(flags('data: {"x":"a\\"usage":{}}\n\n')).toBe(5); // the needle's bytes after an escaped quote, then a colon: a string with an escape before a colon (parsed)
  });

  it('reads a mock answer: the model of every event, the usage chunk and [DONE] as hits', () => {
    const ev = (j: unknown) => `data: ${JSON.stringify(j)}\n\n`;
    const b = Buffer.from(ev({ model: 'm1', choices: [], usage: null }) + ev({ model: 'm1', choices: [], usage: { prompt_tokens: 1 } }) + 'data: [DONE]\n\n');
    const r = scan(b, 'chat');
    expect(r.length).toBe(12);
    expect([r[1], r[5], r[9]]).toEqual([2, 3, 1]);
    expect(b.toString('utf8', r[2], r[3])).toBe('m1');
  });

  it('marks an event with a key spelled with escapes as a hit, and one with escapes in its values only as before', () => {
    const values = `data: {"model":"m","choices":[{"index":0,"delta":{"content":"caf\\u00e9 \\"x\\":\\n"}}],"usage":null}\n\n`;
    expect(flags(values)).toBe(2); // a plain model, no hit
    expect(flags(values.replace(/\\(u00e9|"|n)/g, ''))).toBe(2);
    for (const endpoint of ['chat', 'responses', 'messages'] as const) {
      expect(flags(`data: {"model":"m","choices":[],"us\\u0061ge":{"prompt_tokens":3}}\n\n`, endpoint)).toBe(5); // hit, and the model not known by its bytes
      expect(flags(`data: {"mod\\u0065l" :"m2","choices":[]}\n\n`, endpoint)).toBe(5);
      expect(flags(`event: x"\ndata: {"model":"m","us\\u0061ge"\ndata: :{}}\n\n`, endpoint)).toBe(5);
    }
  });

  describe('marks what the bytes cannot show', () => {
    it('a "usage" with its colon or value on the next data line: a hit (the value is not read from the bytes)', () => {
      expect(flags(`data: {"choices":[],"usage"\ndata: :{"prompt_tokens":3}}\n\n`)).toBe(1);
      expect(flags(`data: {"choices":[],"usage" \t\n:null\ndata: :{"prompt_tokens":3}}\n\n`)).toBe(1);
      expect(flags(`data: {"choices":[],"usage":\nnull\ndata: {"prompt_tokens":3}}\n\n`)).toBe(1);
      expect(flags(`data: {"choices":[],"usage" : null}\n\n`)).toBe(0);
    });
    it('a "model" with its colon or value on the next data line: for the parser', () => {
      expect(flags(`data: {"model"\ndata: :"m2","choices":[]}\n\n`)).toBe(4);
      expect(flags(`data: {"model": \ndata: "m2","choices":[]}\n\n`)).toBe(4);
      expect(flags(`data: {"model":"m","choices":[]}\n\n`)).toBe(2);
    });
    it('a second "model" (JSON.parse keeps the last): for the parser', () => {
      expect(flags(`data: {"model":"m","choices":[],"model":"m2"}\n\n`)).toBe(4);
      expect(flags(`data: {"x":"model","model":"m2"}\n\n`)).toBe(4);
    });
    it('Responses, Messages: a backslash in an event whose type no event: line names (it may spell the trigger)', () => {
      for (const [endpoint, type] of [['messages', 'message\\u005fstop'], ['responses', 'response.complete\\u0064']] as const) {
        expect(flags(`data: {"type":"${type}"}\n\n`, endpoint)).toBe(1);
        expect(flags(`event:\t\ndata: {"type":"${type}"}\n\n`, endpoint)).toBe(1);
        expect(flags(`event: x\nevent:\ndata: {"type":"${type}"}\n\n`, endpoint)).toBe(1);
        expect(flags(`id: 1\ndata: {"type":"${type}"}\n\n`, endpoint)).toBe(1);
        expect(flags(`event: x\ndata: {"type":"${type}"}\n\n`, endpoint)).toBe(0); // the event: line names the type
        expect(flags(`id: 1\nevent: x\ndata: {"type":"${type}"}\n\n`, endpoint)).toBe(0);
      }
      expect(flags(`data: {"type":"x","delta":"a\\nb"}\n\n`)).toBe(0); // chat reads no type
    });
  });

  it('stops at the room it is given, and goes on from where it is told', () => {
    const b = Buffer.from('data: a\n\ndata: b\n\ndata: c\n\n');
    expect(scan(b, 'chat', 0, 2)).toEqual([9, 0, -1, -1, 18, 0, -1, -1]);
    expect(scan(b, 'chat', 18)).toEqual([27, 0, -1, -1]);
    expect(scan(Buffer.from('data: no end\n'), 'chat')).toEqual([]);
  });

  it('keeps two streams apart when their events are inspected in turn (the results array is shared)', () => {
    const ev = (model: string, usage: unknown) => `data: ${JSON.stringify({ model, choices: [], usage })}\n\n`;
    const a = Buffer.from(ev('a', null) + ev('a', null) + ev('a', { prompt_tokens: 1, completion_tokens: 2 }) + 'data: [DONE]\n\n');
    const b = Buffer.from(ev('b', null) + ev('b2', null) + 'data: [DONE]\n\n');
    const alone = (buf: Buffer) => {
      const w = new StreamWatch('chat', true);
      w.scan(buf);
      const v = [];
      for (let s = 0; s < buf.length; s = w.end(buf, s)) v.push(w.inspect(buf, s, w.end(buf, s)));
      return { v, model: w.model, usage: w.usage };
    };
    const wa = new StreamWatch('chat', true);
    const wb = new StreamWatch('chat', true);
    wa.scan(a);
    wb.scan(b);
    const va = [];
    const vb = [];
    let sa = 0;
    let sb = 0;
    while (sa < a.length || sb < b.length) {
      if (sa < a.length) {
        const e = wa.end(a, sa);
        va.push(wa.inspect(a, sa, e));
        sa = e;
      }
      if (sb < b.length) {
        const e = wb.end(b, sb);
        vb.push(wb.inspect(b, sb, e));
        sb = e;
      }
    }
    expect({ v: va, model: wa.model, usage: wa.usage }).toEqual(alone(a));
    expect({ v: vb, model: wb.model, usage: wb.usage }).toEqual(alone(b));
    expect(wa.usage).toMatchObject({ promptTokens: 1, completionTokens: 2 });
    expect(wb.model).toBe('b2');
  });

  // The bound a growing hold relies on (stream-hold.ts): never fewer bytes than the text StreamTracker takes from the
  // event, whatever the text holds (escapes, any unicode, quotes) and however the event is written (keys spelled
  // with escapes, data split over lines, extra fields, other lines).
  it('bounds the UTF-8 bytes of every event\'s text from above', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', 'u', 'é', '😀', '\ud800', 'content', ':') }));
    const event = (endpoint: keyof typeof ENDPOINTS, t: string, t2: string): unknown => {
      switch (endpoint) {
        case 'chat': return { id: 'c1', model: 'm', choices: [{ index: 0, delta: { content: t, tool_calls: [{ index: 0, function: { name: 'f', arguments: t2 } }] } }] };
        case 'responses': return { type: 'response.output_text.delta', output_index: 0, content_index: 0, delta: t };
        default: return { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t, partial_json: t2 } };
      }
    };
    const escapeKeys = (json: string) => json.replace(/"(content|arguments|delta|text|partial_json|thinking)":/g, (_, k: string) => `"\\u00${k.charCodeAt(0).toString(16)}${k.slice(1)}":`);
    fc.assert(fc.property(
      fc.constantFrom('chat', 'responses', 'messages') as fc.Arbitrary<keyof typeof ENDPOINTS>, text, text,
      fc.constantFrom('plain', 'escaped-keys', 'lines', 'event-line', 'ascii-escapes'),
      (endpoint, t, t2, shape) => {
        const j = event(endpoint, t, t2);
        let data = shape === 'ascii-escapes' ? JSON.stringify(j).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : JSON.stringify(j, null, shape === 'lines' ? 1 : undefined);
        if (shape === 'escaped-keys') data = escapeKeys(data);
        const raw = `${shape === 'event-line' ? `event: ${(j as { type?: string }).type ?? 'x'}\n` : ''}${data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`;
        const tracker = new StreamTracker(endpoint, true);
        tracker.inspect(raw);
        expect(tracker.malformed).toBe(0);
        const b = Buffer.from(raw);
        const r = scanAll(b, endpoint);
        expect(r.length).toBe(5);
        expect(r[4]).toBeGreaterThanOrEqual(Buffer.byteLength(tracker.text));
      },
    ), { numRuns: 3000 });
  });

  it('bounds a plain chat delta by its text\'s bytes, not by the event\'s', () => {
    const b = Buffer.from(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'hé "x"' }, finish_reason: null }] })}\n\n`);
    expect(scanAll(b, 'chat')[4]).toBe(Buffer.byteLength(JSON.stringify('hé "x"')) - 2);
  });
});
