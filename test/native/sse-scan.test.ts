import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativePath } from '../../src/native/native-addon.js';
import { StreamWatch } from '../../src/protocols/stream-watch.js';

// The addon's scanSse against the rules of StreamWatch's JavaScript searches
// (src/protocols/stream-watch.ts), written out here once more over the
// whole buffer: per event its end, whether a trigger starts in it (a chat
// "usage" counts unless its value is null), and its first "model" key's
// string value (plain, or escaped / not closed within the event).

const ENDPOINTS = { chat: 0, responses: 1, messages: 2 } as const;
const TRIGGERS = {
  chat: ['[DONE]'],
  responses: ['[DONE]', 'response.completed', 'response.incomplete', 'response.failed', 'response.created'],
  messages: ['[DONE]', 'message_start', 'message_delta', 'message_stop'],
};

function valueAt(b: Buffer, i: number): number {
  while (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a) i++;
  if (b[i] !== 0x3a) return -1;
  i++;
  while (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a) i++;
  return i;
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
        if (v >= 0 && b.indexOf('null', v) !== v) hit = true;
      }
    }
    let flags = hit ? 1 : 0;
    let ms = -1;
    let me = -1;
    const m = b.indexOf('"model"', s);
    if (m >= 0 && m < e) {
      const v = valueAt(b, m + 7);
      if (v >= 0 && v < e && b[v] === 0x22) {
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

const PIECES = ['"usage"', '"model"', ':', ' ', '\t', '\n', 'null', 'nul', '"', '\\', '{', '}', '[DONE]', 'message_stop', 'response.created', 'x', '"gpt-4o"', 'data: ', 'u', 'm'];

describe.runIf(nativePath.kind === 'native')('the native SSE scan', () => {
  const addon = nativePath.kind === 'native' ? nativePath.addon : undefined!;
  const scan = (b: Buffer, endpoint: keyof typeof ENDPOINTS, from = 0, max = 256) => {
    const out = new Int32Array(max * 4);
    const n = addon.scanSse(b, from, ENDPOINTS[endpoint], out);
    return [...out.subarray(0, n * 4)];
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
});
