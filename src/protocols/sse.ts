// Splits an SSE byte stream into whole events (bytes up to and including
// the blank line), so the relay forwards, drops or holds back whole events
// while touching bytes, not strings: an upstream chunk is searched for blank
// lines and handed back as one Buffer of whole events (most often a slice of
// the chunk itself); an event cut by the chunk's end waits for the next one.
// CR and CRLF line ends are rewritten to LF (as the SSE spec reads them) and
// a leading byte-order mark is dropped, so every event the relay sees ends
// with "\n\n".

const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const BLANK = Buffer.from('\n\n');
const EMPTY = Buffer.alloc(0);

export class SseScanner {
  /** Bytes of the event not finished yet (a list, so an event spread over many chunks is copied once). */
  #carry: Buffer[] = [];
  #carryBytes = 0;
  #lastWasCr = false;
  /** Bytes of a leading byte-order mark seen so far (3: past the start). */
  #bom = 0;
  readonly #maxEvent: number;

  constructor(maxEventBytes = 8 * 1024 * 1024) {
    this.#maxEvent = maxEventBytes;
  }

  /** The whole events this chunk completes, as one Buffer (empty when none): iterate them with eventEnd(). */
  push(input: Uint8Array): Buffer {
    const chunk = this.#clean(asBuffer(input));
    if (!chunk.length) return EMPTY;
    // Carrying an event: joined only when a boundary is in the new bytes, or across the seam (the carry ends
    // "\n", the chunk starts "\n").
    if (this.#carryBytes && !(lastByte(this.#carry) === LF && chunk[0] === LF) && chunk.indexOf(BLANK) < 0) {
      this.#keep(chunk);
      return EMPTY;
    }
    PARTS[0] = chunk;
    const whole = this.#joinCarried(1, this.#carryBytes + chunk.length);
    const last = lastBlank(whole);
    const end = last < 0 ? 0 : eventsEnd(whole, last);
    if (end < whole.length) this.#keep(whole.subarray(end));
    return end === whole.length ? whole : whole.subarray(0, end);
  }

  /**
   * push() for several chunks at once: the same events as pushing them one by one, joined in one Buffer (one
   * copy, not one per chunk and another to join them), and `edges[c]`: where the events chunk c completes end in
   * it. A growing hold checks the output, and may cut, at each chunk's end.
   */
  pushAll(chunks: readonly Uint8Array[], edges: number[]): Buffer {
    // Each chunk cleaned as push() would, in order, into PARTS after what was carried. edges[c] first holds where
    // chunk c ends in those bytes, PAIRS[c] where the last blank line ending in it starts (-1: it ends no event).
    let at = this.#carryBytes;
    let lastWasLf = at > 0 && lastByte(this.#carry) === LF;
    let parts = 0;
    let ends = false;
    if (edges.length !== chunks.length) edges.length = chunks.length;
    for (let c = 0; c < chunks.length; c++) {
      const chunk = this.#clean(asBuffer(chunks[c]!));
      let pair = -1;
      if (chunk.length) {
        const inside = lastBlank(chunk);
        pair = inside >= 0 ? at + inside : lastWasLf && chunk[0] === LF ? at - 1 : -1;
        PARTS[parts++] = chunk;
        at += chunk.length;
        lastWasLf = chunk[chunk.length - 1] === LF;
      }
      PAIRS[c] = pair;
      edges[c] = at;
      ends ||= pair >= 0;
    }
    if (!ends) {
      // No event ends in them: all is carried (it only grows, so its size is checked once, at the end).
      for (let i = 0; i < parts; i++) this.#carry.push(takePart(i));
      this.#carryBytes = at;
      this.#checkCarry();
      edges.fill(0);
      return EMPTY;
    }
    const whole = this.#joinCarried(parts, at);
    let end = 0;
    for (let c = 0; c < chunks.length; c++) {
      if (PAIRS[c]! >= 0) end = eventsEnd(whole, PAIRS[c]!);
      // What push() would have carried after this chunk: the same limit on an event's size, at the same chunk.
      if (edges[c]! - end > this.#maxEvent) this.#tooLarge();
      edges[c] = end;
    }
    if (end < whole.length) this.#keep(whole.subarray(end));
    return end === whole.length ? whole : whole.subarray(0, end);
  }

  /** A chunk as the events are read: a leading byte-order mark dropped, line ends made LF. */
  #clean(chunk: Buffer): Buffer {
    if (this.#bom < 3) chunk = this.#dropBom(chunk);
    return this.#lastWasCr || chunk.indexOf(CR) >= 0 ? this.#normalize(chunk) : chunk;
  }

  /** What was carried and PARTS[0, parts), `n` bytes, in one Buffer (the one part itself when it is all); the carry emptied. */
  #joinCarried(parts: number, n: number): Buffer {
    if (!this.#carryBytes && parts === 1) return takePart(0);
    const all = Buffer.allocUnsafe(n);
    let at = 0;
    for (const b of this.#carry) at += b.copy(all, at);
    for (let i = 0; i < parts; i++) at += takePart(i).copy(all, at);
    if (this.#carryBytes) {
      this.#carry = [];
      this.#carryBytes = 0;
    }
    return all;
  }

  #dropBom(chunk: Buffer): Buffer {
    let i = 0;
    while (this.#bom < 3 && i < chunk.length && chunk[i] === BOM[this.#bom]) {
      i++;
      this.#bom++;
    }
    if (this.#bom === 3 || i === chunk.length) return chunk.subarray(i);
    // Not a byte-order mark after all: the bytes taken for one are the stream's.
    const taken = this.#bom;
    this.#bom = 3;
    return taken ? Buffer.concat([BOM.subarray(0, taken), chunk.subarray(i)]) : chunk;
  }

  #keep(b: Buffer): void {
    this.#carry.push(b);
    this.#carryBytes += b.length;
    this.#checkCarry();
  }

  #checkCarry(): void {
    if (this.#carryBytes > this.#maxEvent) this.#tooLarge();
  }

  #tooLarge(): never {
    throw new Error(`upstream sent an SSE event larger than ${this.#maxEvent} bytes`);
  }

  /** CRLF and lone CR → LF; a CR at a chunk's end may be the first half of a CRLF split across chunks. */
  #normalize(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    let i = 0;
    if (this.#lastWasCr && chunk[0] === LF) i = 1;
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b !== CR) {
        out[n++] = b;
        continue;
      }
      out[n++] = LF;
      if (chunk[i + 1] === LF) i++;
    }
    this.#lastWasCr = chunk.length > 0 && chunk[chunk.length - 1] === CR;
    return out.subarray(0, n);
  }
}

/**
 * Where the events in `whole` (from an event's start) end, given `last`: the last blank line (a pair of LFs)
 * of the bytes read so far. That is where a forward scan for blank lines would last stop: in the run of LFs the
 * pair ends, after an even number of them ("\n\n\n" ends one event, not two). Found from the end: one search, not
 * one per event.
 */
function eventsEnd(whole: Buffer, last: number): number {
  let run = last; // the run's first LF (it ends at last + 2)
  while (run > 0 && whole[run - 1] === LF) run--;
  return run + ((last + 2 - run) & ~1);
}

/** chunk.lastIndexOf(BLANK), without the search (a native call) for a chunk that ends an event, as most do. */
function lastBlank(chunk: Buffer): number {
  const n = chunk.length;
  return n >= 2 && chunk[n - 1] === LF && chunk[n - 2] === LF ? n - 2 : chunk.lastIndexOf(BLANK);
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function lastByte(parts: readonly Buffer[]): number {
  const b = parts[parts.length - 1]!;
  return b[b.length - 1]!;
}

// push()'s and pushAll()'s cleaned chunks, and pushAll()'s blank line per chunk, in lists shared by every scanner (filled and read in one
// synchronous run): none made per read.
const PARTS: Buffer[] = [];
const PAIRS: number[] = [];
const takePart = (i: number): Buffer => {
  const part = PARTS[i]!;
  PARTS[i] = EMPTY; // not kept alive by the list
  return part;
};

/** The end (exclusive, after its blank line) of the event starting at `start` in a Buffer of whole events from SseScanner.push. */
export function eventEnd(events: Buffer, start: number): number {
  return events.indexOf(BLANK, start) + 2;
}

export interface SseEvent { event: string; data: string }

export function parseEvent(raw: string): SseEvent {
  let event = '';
  let data = '';
  let pos = 0;
  while (pos < raw.length) {
    let nl = raw.indexOf('\n', pos);
    if (nl < 0) nl = raw.length;
    const line = raw.slice(pos, nl);
    pos = nl + 1;
    if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
    else if (line.startsWith('event:')) event = line.slice(line[6] === ' ' ? 7 : 6).trim();
  }
  return { event, data };
}
