import { STATUS_CODES } from 'node:http';

const cache = new Map<number, string>();

/** "402 Payment Required": the status line uWS wants. */
export function statusLine(code: number): string {
  let s = cache.get(code);
  if (!s) {
    s = `${code} ${STATUS_CODES[code] ?? 'Unknown'}`;
    cache.set(code, s);
  }
  return s;
}

const bytes = new Map<number, Buffer>();

/** statusLine() as bytes: uWS copies a Buffer as it is, where a string is first converted to UTF-8 in a fresh allocation. */
export function statusBytes(code: number): Buffer {
  let b = bytes.get(code);
  if (!b) {
    b = Buffer.from(statusLine(code), 'latin1');
    bytes.set(code, b);
  }
  return b;
}

const names = new Map<string, Buffer>();
const MAX_NAMES = 256;

/**
 * A header name as bytes, for uWS's writeHeader/getHeader (see statusBytes).
 * Names come from our code, so the set is small; past MAX_NAMES the string
 * itself is returned.
 */
export function headerBytes(name: string): Buffer | string {
  let b = names.get(name);
  if (!b) {
    if (names.size >= MAX_NAMES) return name;
    b = Buffer.from(name, 'latin1');
    names.set(name, b);
  }
  return b;
}
