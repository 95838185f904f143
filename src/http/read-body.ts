import type { HttpResponse } from 'uWebSockets.js';
import { LinkedList } from '../collections/linked-list.js';

export class BodyTooLarge extends Error {
  readonly code = 'TG_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body is larger than the ${limit}-byte limit`);
  }
}

export class BodyTimeout extends Error {
  readonly code = 'TG_BODY_TIMEOUT';
  constructor(readonly ms: number, readonly received: number) {
    super(`request body did not arrive within ${ms} ms (got ${received} bytes); send the whole body promptly`);
  }
}

/**
 * Bodies still arriving, with their deadline. uWS drops a connection that
 * sends less than ~16 KB per 10 s, but a sender that stays just above that
 * could hold a request (and its memory) open for hours; the shard's
 * once-a-second sweep (sweepSlowBodies) fails those past `bodyTimeout`.
 * One sweep instead of a timer per request, over a list through the reads
 * themselves (collections/linked-list.ts).
 */
const arriving = new LinkedList<BodyRead>();

export function sweepSlowBodies(now: number): number {
  let n = 0;
  for (let r = arriving.first; r; ) {
    const next = r.next;
    if (r.deadline <= now) {
      arriving.remove(r);
      r.fail(new BodyTimeout(r.timeoutMs, r.size));
      n++;
    }
    r = next;
  }
  return n;
}

/** Largest declared body read straight into one buffer allocated up front. */
const PREALLOCATE_MAX = 1024 * 1024;

/** One body being read: its chunks, its place in the list of bodies still arriving, and its promise's settlers. */
class BodyRead {
  prev: BodyRead | undefined = undefined;
  next: BodyRead | undefined = undefined;
  listed = false;
  deadline = 0;
  size = 0;
  failed = false;
  /** A declared length: the chunks are copied straight into one buffer of that size (one copy, no concat). */
  whole: Buffer | undefined;
  /** Chunks of a body of no (or a too large) declared length, or one longer than declared. */
  chunks: Buffer[] | undefined = undefined;
  resolve: (b: Buffer) => void = noop;
  reject: (e: Error) => void = noop;

  constructor(readonly limit: number, readonly timeoutMs: number, declaredLength: number) {
    // Not past a bound, so a header alone cannot make the proxy allocate a large body's memory.
    this.whole = declaredLength > 0 && declaredLength <= PREALLOCATE_MAX ? Buffer.allocUnsafe(declaredLength) : undefined;
  }

  list(now: number): void {
    this.deadline = now + this.timeoutMs;
    arriving.push(this);
  }

  unlist(): void {
    arriving.remove(this);
  }

  fail(err: Error): void {
    this.failed = true;
    this.chunks = undefined;
    this.whole = undefined;
    this.reject(err);
  }

  /** uWS's data callback (bound once per read). */
  onData(ab: ArrayBuffer, isLast: boolean): void {
    if (this.failed) return;
    let whole = this.whole;
    const at = this.size;
    if (whole && at + ab.byteLength > whole.length) {
      // More than declared (uWS enforces content-length, so never in practice): collect as for an undeclared length.
      this.chunks = [whole.subarray(0, at)];
      this.whole = whole = undefined;
    }
    const size = (this.size = at + ab.byteLength);
    if (size > this.limit) {
      this.unlist();
      this.fail(new BodyTooLarge(this.limit));
      return;
    }
    if (whole) {
      whole.set(new Uint8Array(ab), at);
      if (!isLast) return;
      this.unlist();
      this.resolve(size === whole.length ? whole : whole.subarray(0, size));
      return;
    }
    const chunks = this.chunks;
    if (isLast) {
      this.unlist();
      if (!chunks?.length) {
        this.resolve(copy(ab));
      } else {
        chunks.push(copy(ab));
        this.resolve(Buffer.concat(chunks, size));
      }
    } else if (chunks) {
      chunks.push(copy(ab));
    } else {
      this.chunks = [copy(ab)];
    }
  }
}

const noop = (): void => {};

/**
 * Collects the request body. Must be called synchronously in the handler
 * (uWS delivers data only to handlers registered before it returns). uWS
 * reuses the chunk's memory after the callback, so each chunk is copied.
 */
export function readBody(res: HttpResponse, limit: number, declaredLength: number, timeoutMs = 0): Promise<Buffer> {
  if (declaredLength > limit) return Promise.reject(new BodyTooLarge(limit));
  const read = new BodyRead(limit, timeoutMs, declaredLength);
  const body = new Promise<Buffer>((resolve, reject) => {
    read.resolve = resolve;
    read.reject = reject;
  });
  if (timeoutMs > 0) read.list(Date.now());
  res.onData(read.onData.bind(read));
  // (A client gone mid-body stays listed until its deadline: uWS keeps one
  // onAborted handler per response, and Exchange owns it.)
  return body;
}

/** One copy of a uWS chunk; small ones land in Node's shared buffer pool instead of an ArrayBuffer of their own. */
function copy(ab: ArrayBuffer): Buffer {
  const b = Buffer.allocUnsafe(ab.byteLength);
  b.set(new Uint8Array(ab));
  return b;
}
