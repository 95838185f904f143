import type { HttpResponse } from 'uWebSockets.js';

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
 * A Set and one sweep instead of a timer per request: most bodies arrive
 * with their headers and never enter it.
 */
const arriving = new Set<{ deadline: number; fail: (now: number) => void }>();

export function sweepSlowBodies(now: number): number {
  let n = 0;
  for (const r of arriving) {
    if (r.deadline <= now) {
      arriving.delete(r);
      r.fail(now);
      n++;
    }
  }
  return n;
}

/** Largest declared body read straight into one buffer allocated up front. */
const PREALLOCATE_MAX = 1024 * 1024;

/**
 * Collects the request body. Must be called synchronously in the handler
 * (uWS delivers data only to handlers registered before it returns). uWS
 * reuses the chunk's memory after the callback, so each chunk is copied.
 */
export function readBody(res: HttpResponse, limit: number, declaredLength: number, timeoutMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (declaredLength > limit) {
      reject(new BodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    // A declared length: the chunks are copied straight into one buffer of that size (one copy, no concat);
    // not past a bound, so a header alone cannot make the proxy allocate a large body's memory.
    let whole = declaredLength > 0 && declaredLength <= PREALLOCATE_MAX ? Buffer.allocUnsafe(declaredLength) : undefined;
    let size = 0;
    let failed = false;
    const entry = timeoutMs > 0 ? {
      deadline: Date.now() + timeoutMs,
      fail: () => {
        failed = true;
        chunks.length = 0;
        whole = undefined;
        reject(new BodyTimeout(timeoutMs, size));
      },
    } : undefined;
    if (entry) arriving.add(entry);
    res.onData((ab, isLast) => {
      if (failed) return;
      if (whole && size + ab.byteLength > whole.length) {
        // More than declared (uWS enforces content-length, so never in practice): collect as for an undeclared length.
        chunks.push(whole.subarray(0, size));
        whole = undefined;
      }
      const at = size;
      size += ab.byteLength;
      if (size > limit) {
        failed = true;
        if (entry) arriving.delete(entry);
        chunks.length = 0;
        whole = undefined;
        reject(new BodyTooLarge(limit));
        return;
      }
      if (whole) {
        whole.set(new Uint8Array(ab), at);
        if (!isLast) return;
        if (entry) arriving.delete(entry);
        resolve(size === whole.length ? whole : whole.subarray(0, size));
        return;
      }
      if (isLast) {
        if (entry) arriving.delete(entry);
        if (chunks.length === 0) {
          resolve(copy(ab));
        } else {
          chunks.push(copy(ab));
          resolve(Buffer.concat(chunks, size));
        }
      } else {
        chunks.push(copy(ab));
      }
    });
    // (A client gone mid-body stays in `arriving` until its deadline: uWS
    // keeps one onAborted handler per response, and Exchange owns it.)
  });
}

/** One copy of a uWS chunk; small ones land in Node's shared buffer pool instead of an ArrayBuffer of their own. */
function copy(ab: ArrayBuffer): Buffer {
  const b = Buffer.allocUnsafe(ab.byteLength);
  b.set(new Uint8Array(ab));
  return b;
}
