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
