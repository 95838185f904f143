import type { Dispatcher } from 'undici';

// One call to an upstream through undici's dispatch API. Lighter than
// `request()`: no Node stream per call, no AbortSignal; the body arrives as
// Buffers that are either collected whole or pulled one by one, and the
// socket is paused while the consumer (a slow client) lags behind.
//
// The handler speaks undici's raw interface (onConnect, onHeaders with the
// header Buffers, onData, onComplete): given one with onRequestStart, undici
// wraps it per call in two objects of its own and parses every answer header,
// and the trailers, into objects; only two headers are read here.

/** The answer's status and the two headers the relays read (a repeated header as parseHeaders gives it: joined, or a list). */
export interface UpstreamHead { status: number; contentType: string; retryAfter: string | string[] | undefined }

const HIGH_WATER = 1024 * 1024;
const CONTENT_TYPE = Buffer.from('content-type');
const RETRY_AFTER = Buffer.from('retry-after');

/** A header name equals `lower` (lower-case letters and '-'), in any case: setting the 0x20 bit lower-cases a letter and leaves '-' as it is. */
function isName(name: Buffer, lower: Buffer): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((name[i]! | 0x20) !== lower[i]) return false;
  return true;
}

/** The status and the headers read, from undici's raw [name, value, ...] Buffers (values decoded as latin1, as parseHeaders does). */
export function upstreamHead(status: number, raw: readonly Buffer[]): UpstreamHead {
  let contentType: string | string[] | undefined;
  let retryAfter: string | string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (isName(name, CONTENT_TYPE)) contentType = joinValue(contentType, raw[i + 1]!.toString('latin1'));
    else if (isName(name, RETRY_AFTER)) retryAfter = joinValue(retryAfter, raw[i + 1]!.toString('latin1'));
  }
  return { status, contentType: contentType === undefined ? '' : String(contentType), retryAfter };
}

const joinValue = (had: string | string[] | undefined, v: string): string | string[] => (had === undefined ? v : typeof had === 'string' ? [had, v] : (had.push(v), had));

export class UpstreamExchange implements Dispatcher.DispatchHandler {
  /** Made when first asked for (settled already if the head or a failure came first): a failure nobody asked about rejects no promise. */
  #head: Promise<UpstreamHead> | undefined;
  #resolveHead: ((h: UpstreamHead) => void) | undefined;
  #rejectHead: ((e: Error) => void) | undefined;
  #headValue: UpstreamHead | undefined;
  #headError: Error | undefined;
  /** undici's abort and resume for this request (given with the connection and the head). */
  #abortRequest: ((err: Error) => void) | undefined;
  #resumeRequest: (() => void) | undefined;
  #paused = false;
  #pendingAbort: Error | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #received = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** readAll() keeps everything anyway (bounded by maxBytes): no backpressure, which would only stall it. */
  #collecting = false;

  constructor(private readonly maxBytes: number) {}

  get head(): Promise<UpstreamHead> {
    if (!this.#head) {
      if (this.#headValue) this.#head = Promise.resolve(this.#headValue);
      else if (this.#headError) this.#head = Promise.reject(this.#headError);
      else {
        this.#head = new Promise((resolve, reject) => {
          this.#resolveHead = resolve;
          this.#rejectHead = reject;
        });
      }
    }
    return this.#head;
  }

  abort(reason: Error): void {
    if (this.#abortRequest) this.#abortRequest(reason);
    else this.#pendingAbort = reason;
    this.#fail(reason);
  }

  // undici ignores an abort once the request has completed or failed (client-h1's abort checks both).
  onConnect(abort: (err?: Error) => void): void {
    this.#abortRequest = abort;
    if (this.#pendingAbort) abort(this.#pendingAbort);
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#resumeRequest = resume;
    if (status < 200) return true; // 1xx informational
    this.#headValue = upstreamHead(status, rawHeaders);
    this.#resolveHead?.(this.#headValue);
    return !this.#paused;
  }

  /** false pauses the socket until #resume (undici's raw interface). */
  onData(chunk: Buffer): boolean {
    this.#received += chunk.length;
    if (this.#received > this.maxBytes) {
      const err = Object.assign(new Error(`upstream answer is larger than ${this.maxBytes} bytes`), { code: 'TG_UPSTREAM_TOO_LARGE' });
      this.#abortRequest?.(err);
      this.#fail(err);
      return true;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered > HIGH_WATER && !this.#collecting) this.#paused = true;
    this.#notify();
    return !this.#paused;
  }

  onComplete(): void {
    this.#ended = true;
    this.#notify();
  }

  onError(err: Error): void {
    this.#fail(err);
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resumeRequest?.();
  }

  #fail(err: Error) {
    if (this.#error) return;
    this.#error = err;
    if (!this.#headValue && !this.#headError) {
      this.#headError = err;
      this.#rejectHead?.(err);
    }
    this.#notify();
  }

  #notify() {
    const w = this.#wake;
    if (w) {
      this.#wake = undefined;
      w();
    }
  }

  #waitForMore(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  /** The whole body. */
  async readAll(): Promise<Buffer> {
    // Pausing on every chunk past the high-water mark and resuming on the
    // next wake stalled undici for good once a body passed 1 MB.
    this.#collecting = true;
    while (!this.#ended) {
      if (this.#error) throw this.#error;
      this.#resume();
      await this.#waitForMore();
    }
    if (this.#error) throw this.#error;
    return this.#takeAll();
  }

  /** The whole body if it has all arrived and nothing failed (no promise, no wait); else undefined. */
  arrivedWhole(): Buffer | undefined {
    return this.#ended && !this.#error ? this.#takeAll() : undefined;
  }

  /** Every chunk held, as one Buffer (no copy for a body that came in one). */
  #takeAll(): Buffer {
    const c = this.#chunks;
    this.#chunks = [];
    return c.length === 1 ? c[0]! : Buffer.concat(c);
  }

  /**
   * The next chunk, or null at the end. Throws if the upstream failed.
   * `all`: every chunk that has arrived, as one Buffer. A chunked stream
   * comes in many small pieces from one socket read (one per HTTP chunk: an
   * SSE upstream writes one per event or word); taken together, the relay
   * scans them at once and passes them on in one write, not one socket
   * write per piece. Nothing waits for more: only what is here is taken.
   * `before`: a chunk taken earlier (the first, read by the attempt loop),
   * joined in front of all that has arrived in the same copy.
   */
  next(all = false, before?: Buffer): Buffer | null | Promise<Buffer | null> {
    // What has arrived (or the end) is handed back at once: a stream's batch mostly comes with its end, and a
    // promise per call cost a suspension of the relay each.
    const now = this.#take(all, before);
    return now === undefined ? this.#later(() => this.#take(all, before)) : now;
  }

  /** `take`'s first answer once more has arrived (or the end, or an error): next() and chunks() when they must wait. */
  async #later<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      await this.#waitForMore();
      const now = take();
      if (now !== undefined) return now;
    }
  }

  /** next()'s answer when there is one now (chunks, the end, an error thrown); undefined when it must wait. */
  #take(all: boolean, before: Buffer | undefined): Buffer | null | undefined {
    const c = this.#chunks;
    if (c.length) {
      let out: Buffer;
      if (before || (all && c.length > 1)) {
        let n = 0;
        for (const b of c) n += b.length;
        this.#buffered -= n;
        if (before) c.unshift(before);
        out = Buffer.concat(c, before ? n + before.length : n);
        this.#chunks = [];
      } else {
        out = c.shift()!;
        this.#buffered -= out.length;
      }
      if (this.#buffered <= HIGH_WATER / 2) this.#resume();
      return out;
    }
    if (this.#error) throw this.#error;
    if (this.#ended) return before ?? null;
    return undefined;
  }

  /**
   * Every chunk that has arrived, as they came (no copy), or null at the end;
   * waits only when none has. For a reader that needs the chunks' edges: a
   * stream's growing hold checks the output, and may cut, at the end of each.
   */
  chunks(): Buffer[] | null | Promise<Buffer[] | null> {
    const now = this.#takeChunks();
    return now === undefined ? this.#later(() => this.#takeChunks()) : now;
  }

  #takeChunks(): Buffer[] | null | undefined {
    const c = this.#chunks;
    if (c.length) {
      this.#chunks = [];
      this.#buffered = 0;
      this.#resume();
      return c;
    }
    if (this.#error) throw this.#error;
    if (this.#ended) return null;
    return undefined;
  }

  /** Chunks have arrived that next() has not taken. */
  arrived(): boolean {
    return this.#chunks.length > 0;
  }

  /** Discards the rest of the body (a retried attempt), freeing the connection. */
  discard(): void {
    this.#chunks = [];
    this.#buffered = 0;
    if (!this.#ended && !this.#error) this.#abortRequest?.(new Error('discarded'));
  }
}
