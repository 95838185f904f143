import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventEnd, SseScanner } from '../../src/protocols/sse.js';

// A stream with a growing hold is relayed read by read, each read several
// upstream chunks whose edges matter (stream-relay.ts: a budget cut stops at
// one). SseScanner.pushAll takes a read's chunks at once; it must give what
// pushing them one by one gives: the same events, joined, and each chunk's
// edge in them, for chunks cut anywhere (inside "\r\n", "\n\n", a UTF-8
// character, a byte-order mark).

/** The read through push(), chunk by chunk: its events joined, and where each chunk's end in them. */
function oneByOne(scanner: SseScanner, read: Buffer[]): { events: Buffer; edges: number[] } {
  const parts: Buffer[] = [];
  const edges: number[] = [];
  let n = 0;
  for (const chunk of read) {
    const events = scanner.push(chunk);
    parts.push(events);
    n += events.length;
    edges.push(n);
  }
  return { events: Buffer.concat(parts), edges };
}

/** Pieces a stream is made of: the line ends and blank lines of every kind, text of every UTF-8 width. */
const piece = fc.constantFrom('data: {"a":1}', 'event: x', 'data:', ':', '\n', '\n\n', '\n\n\n', '\r', '\r\n', '\r\n\r\n', '\r\r', 'é', '€', '😀', ' text ', '\ufeff');
const streamArb = fc.tuple(fc.boolean(), fc.array(piece, { maxLength: 60, size: 'max' })).map(([bom, ps]) => Buffer.from((bom ? '\ufeff' : '') + ps.join('')));
/** Where the stream is cut into chunks, and how many chunks each read takes. */
const cutsArb = fc.array(fc.nat(), { maxLength: 30, size: 'max' });
const readSizesArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 20 });

function chunksOf(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c)); // empty chunks too
    prev = c;
  }
  return out;
}

function readsOf(chunks: Buffer[], sizes: number[]): Buffer[][] {
  const reads: Buffer[][] = [];
  for (let i = 0, r = 0; i < chunks.length; r++) {
    const n = sizes[r % sizes.length]!;
    reads.push(chunks.slice(i, i + n));
    i += n;
  }
  return reads;
}

/** The reference: the whole stream as text, a leading BOM dropped, CR/CRLF read as LF, split at blank lines. */
function referenceEvents(stream: string): string[] {
  const text = stream.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const out: string[] = [];
  for (let start = 0, i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n', start)) {
    out.push(text.slice(start, i + 2));
    start = i + 2;
  }
  return out;
}

const eventsIn = (events: Buffer): string[] => {
  const out: string[] = [];
  for (let s = 0, e = 0; s < events.length; s = e) {
    e = eventEnd(events, s);
    if (e <= s) throw new Error(`not a whole event at ${s}`);
    out.push(events.toString('utf8', s, e));
  }
  return out;
};

describe('SseScanner.pushAll', () => {
  it('finds, as push() does, the events of the stream read as text', () => {
    fc.assert(fc.property(streamArb, cutsArb, readSizesArb, (bytes, cuts, sizes) => {
      const expected = referenceEvents(bytes.toString());
      const [all, each] = [new SseScanner(), new SseScanner()];
      const found: string[][] = [[], []];
      for (const read of readsOf(chunksOf(bytes, cuts), sizes)) {
        found[0]!.push(...eventsIn(all.pushAll(read, [])));
        for (const chunk of read) found[1]!.push(...eventsIn(each.push(chunk)));
      }
      expect(found).toEqual([expected, expected]);
    }));
  });


  it('gives the events and chunk edges pushing the chunks one by one gives, however the stream is cut and read', () => {
    fc.assert(fc.property(streamArb, cutsArb, readSizesArb, (bytes, cuts, sizes) => {
      const all = new SseScanner();
      const each = new SseScanner();
      const edges: number[] = [];
      for (const read of readsOf(chunksOf(bytes, cuts), sizes)) {
        const events = all.pushAll(read, edges);
        const expected = oneByOne(each, read);
        expect(events.equals(expected.events)).toBe(true);
        expect(edges).toEqual(expected.edges);
        for (let s = 0; s < events.length; s = eventEnd(events, s)) expect(eventEnd(events, s)).toBeGreaterThan(s + 1);
      }
    }));
  });

  it('refuses an event over the size limit at the same read as push() does', () => {
    fc.assert(fc.property(streamArb, cutsArb, readSizesArb, fc.integer({ min: 1, max: 40 }), (bytes, cuts, sizes, max) => {
      const all = new SseScanner(max);
      const each = new SseScanner(max);
      const edges: number[] = [];
      for (const read of readsOf(chunksOf(bytes, cuts), sizes)) {
        let expected: { events: Buffer; edges: number[] } | Error;
        try {
          expected = oneByOne(each, read);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) {
          expect(() => all.pushAll(read, edges)).toThrow(expected.message);
          return;
        }
        const events = all.pushAll(read, edges);
        expect(events.equals(expected.events)).toBe(true);
        expect(edges).toEqual(expected.edges);
      }
    }));
  });

  it('copies nothing for a read whose events are all in one chunk', () => {
    const chunk = Buffer.from('data: 1\n\ndata: 2\n\n');
    const events = new SseScanner().pushAll([chunk, Buffer.alloc(0)], []);
    expect(events.buffer).toBe(chunk.buffer);
    expect(events.byteOffset).toBe(chunk.byteOffset);
  });
});
