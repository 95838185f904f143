import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

// One call to an upstream through undici's dispatch API. Lighter than
// `request()`: no Node stream per call, no AbortSignal; the body arrives as
// Buffers that are either collected whole or pulled one by one, and the
// socket is paused while the consumer (a slow client) lags behind.

export interface UpstreamHead { status: number; headers: IncomingHttpHeaders }

const HIGH_WATER = 1024 * 1024;

export class UpstreamExchange implements Dispatcher.DispatchHandler {
  /** Made when first asked for (settled already if the head or a failure came first): a failure nobody asked about rejects no promise. */
  #head: Promise<UpstreamHead> | undefined;
  #resolveHead: ((h: UpstreamHead) => void) | undefined;
  #rejectHead: ((e: Error) => void) | undefined;
  #headValue: UpstreamHead | undefined;
  #headError: Error | undefined;
  #controller: Dispatcher.DispatchController | undefined;
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
    if (this.#controller) this.#controller.abort(reason);
    else this.#pendingAbort = reason;
    this.#fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#pendingAbort) controller.abort(this.#pendingAbort);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return; // 1xx informational
    this.#headValue = { status, headers };
    this.#resolveHead?.(this.#headValue);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#received += chunk.length;
    if (this.#received > this.maxBytes) {
      const err = Object.assign(new Error(`upstream answer is larger than ${this.maxBytes} bytes`), { code: 'TG_UPSTREAM_TOO_LARGE' });
      controller.abort(err);
      this.#fail(err);
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered > HIGH_WATER && !this.#collecting) controller.pause();
    this.#notify();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#notify();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err);
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
      this.#controller?.resume();
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
    return now === undefined ? this.#nextLater(all, before) : now;
  }

  async #nextLater(all: boolean, before: Buffer | undefined): Promise<Buffer | null> {
    for (;;) {
      await this.#waitForMore();
      const now = this.#take(all, before);
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
      if (this.#buffered <= HIGH_WATER / 2 && this.#controller?.paused) this.#controller.resume();
      return out;
    }
    if (this.#error) throw this.#error;
    if (this.#ended) return before ?? null;
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
    if (!this.#ended && !this.#error) this.#controller?.abort(new Error('discarded'));
  }
}
