import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativePath } from '../../src/native/native-addon.js';
import { StreamWatch } from '../../src/protocols/stream-watch.js';
import { StreamTracker } from '../../src/protocols/stream-tracker.js';

// The addon's scanSse against the rules of StreamWatch's JavaScript searches
// (src/protocols/stream-watch.ts), written out here once more over the
// whole buffer: per event its end, whether a trigger starts in it (a chat
// "usage" counts unless its value is null; on Responses and Messages a
// backslash counts when no event: line names the type), and its first
// "model" key's string value (plain, or for the parser: escaped, not closed
// within the event, on another line, or followed by a second "model").

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

function reference(b: Buffer, endpoint: keyof typeof ENDPOINTS): number[] {
  const out: number[] = [];
  for (let s = 0; s < b.length; ) {
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
    out.push(e, flags, ms, me);
    s = e;
  }
  return out;
}

const PIECES = ['"usage"', '"model"', ':', ' ', '\t', '\n', 'null', 'nul', '"', '\\', '{', '}', '[DONE]', 'message_stop', 'response.created', 'x', '"gpt-4o"', 'data: ', 'u', 'm', '"us\\u0061ge"', '"a\\"b"', '\\n', '"x\\\\"', 'event:', 'event: ', '\nevent: x', '"model":"a"', '"type":"message\\u005fstop"'];

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

  it('finds what the JavaScript searches find, event by event', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join('') + '\n\n'), { minLength: 1, maxLength: 6 }),
      fc.constantFrom('chat', 'responses', 'messages') as fc.Arbitrary<keyof typeof ENDPOINTS>,
      (events, endpoint) => {
        const b = Buffer.from(events.join(''));
        expect(scan(b, endpoint)).toEqual(reference(b, endpoint));
      },
    ), { numRuns: 3000 });
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
