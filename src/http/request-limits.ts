import type { HttpRequest } from 'uWebSockets.js';

// Size limits on the request head. uWS itself accepts headers up to about
// 1 MB and URLs of any length, so these are ours: a request over a limit gets
// its own status (414, 431) and a protocol-shaped error before any parsing.

export interface HeadLimits {
  maxHeaderBytes: number;
  maxUrlBytes: number;
}

/** The status is the registry's for `type` (errors.ts). */
export type HeadBreach = { type: 'uri_too_long' | 'request_header_too_large'; message: string };

// One callback for every request (forEach runs synchronously), not a closure per request.
let headerBytes = 0;
const addHeader = (k: string, v: string): void => {
  headerBytes += k.length + v.length + 4; // "k: v\r\n"
};

/** Checks the request line and headers; must run before the handler's first await (uWS invalidates `req`). */
export function checkRequestHead(req: HttpRequest, limits: HeadLimits): HeadBreach | null {
  const url = req.getUrl().length + (req.getQuery()?.length ?? 0) + 1;
  if (url > limits.maxUrlBytes) {
    return { type: 'uri_too_long', message: `request URL is longer than the ${limits.maxUrlBytes}-byte limit` };
  }
  headerBytes = 0;
  req.forEach(addHeader);
  if (headerBytes > limits.maxHeaderBytes) {
    return { type: 'request_header_too_large', message: `request headers are larger than the ${limits.maxHeaderBytes}-byte limit` };
  }
  return null;
}
