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
    let chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (this.#bom < 3) chunk = this.#dropBom(chunk);
    if (this.#lastWasCr || chunk.indexOf(CR) >= 0) chunk = this.#normalize(chunk);
    if (!chunk.length) return EMPTY;
    let whole: Buffer;
    if (this.#carryBytes) {
      // A boundary in the new bytes, or one across the seam (carry ends "\n", chunk starts "\n").
      const last = this.#carry[this.#carry.length - 1]!;
      const seam = last[last.length - 1] === LF && chunk[0] === LF;
      if (!seam && chunk.indexOf(BLANK) < 0) {
        this.#keep(chunk);
        return EMPTY;
      }
      whole = Buffer.concat([...this.#carry, chunk]);
      this.#carry = [];
      this.#carryBytes = 0;
    } else {
      whole = chunk;
    }
    // The events end where a forward scan for blank lines would last stop: in the last run of line feeds, after
    // an even number of them ("\n\n\n" ends one event, not two). Found from the end: one search, not one per event.
    let end = 0;
    const last = whole.lastIndexOf(BLANK);
    if (last >= 0) {
      let run = last; // the run's first LF (the run ends at last + 2: lastIndexOf found its last pair)
      while (run > 0 && whole[run - 1] === LF) run--;
      end = run + ((last + 2 - run) & ~1);
    }
    if (end < whole.length) this.#keep(whole.subarray(end));
    return end === whole.length ? whole : whole.subarray(0, end);
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
    if (this.#carryBytes > this.#maxEvent) throw new Error(`upstream sent an SSE event larger than ${this.#maxEvent} bytes`);
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
