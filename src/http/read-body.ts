import type { HttpResponse } from 'uWebSockets.js';

export class BodyTooLarge extends Error {
  readonly code = 'TG_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body is larger than the ${limit}-byte limit`);
  }
}

/**
 * Collects the request body. Must be called synchronously in the handler
 * (uWS delivers data only to handlers registered before it returns). uWS
 * reuses the chunk's memory after the callback, so each chunk is copied.
 */
export function readBody(res: HttpResponse, limit: number, declaredLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (declaredLength > limit) {
      reject(new BodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((ab, isLast) => {
      if (failed) return;
      size += ab.byteLength;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge(limit));
        return;
      }
      if (isLast) {
        if (chunks.length === 0) {
          resolve(Buffer.from(new Uint8Array(ab).slice()));
        } else {
          chunks.push(Buffer.from(new Uint8Array(ab).slice()));
          resolve(Buffer.concat(chunks, size));
        }
      } else {
        chunks.push(Buffer.from(new Uint8Array(ab).slice()));
      }
    });
  });
}
