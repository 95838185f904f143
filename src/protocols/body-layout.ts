import { BadRequest } from './call.js';

// Where the editable values of a request body lie in its bytes, so the body
// sent upstream is the client's bytes with those values spliced
// (splice-body.ts), never a re-serialised object. The native scanner
// (native/) reports the same layout; this is the JavaScript path's, read
// from a body that JSON.parse already accepted. It also refuses duplicate
// keys at any depth: JSON.parse keeps the last, other parsers the first, so
// a body with two "model" keys could be priced for one model and served by
// another.

/** Byte range [start, end) of a value. */
export type Span = readonly [number, number];

/** Spans by key: a Map on the JavaScript path; on the native path a view of the scan's numbers (read-request.ts). */
export interface SpanLookup extends Iterable<[string, Span]> {
  get(key: string): Span | undefined;
  has(key: string): boolean;
}

export interface BodyLayout {
  raw: Buffer;
  /** Offset of the body's opening brace. */
  open: number;
  /** Top-level values by key: model, the output caps, stream_options. */
  members: SpanLookup;
  /** stream_options when it is an object: its members, and how many there are. */
  streamOptions?: { members: SpanLookup; count: number };
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d;
const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index of the quote that closes the string whose opening quote is at `at`. */
function stringEnd(raw: Buffer, at: number): number {
  let i = at + 1;
  for (;;) {
    const q = raw.indexOf(QUOTE, i);
    let b = q - 1;
    while (raw[b] === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    i = q + 1;
  }
}

function keyText(raw: Buffer, start: number, end: number): string {
  const s = raw.toString('utf8', start + 1, end);
  return s.includes('\\') ? (JSON.parse(raw.toString('utf8', start, end + 1)) as string) : s;
}

/**
 * The members of the (valid) object whose brace is at `open`, and the number
 * of colons outside strings in it (one per key, at any depth).
 */
function members(raw: Buffer, open: number): { members: Map<string, Span>; colons: number; count: number } {
  const out = new Map<string, Span>();
  let depth = 0, colons = 0, count = 0;
  let key = '', valueStart = -1, last = -1;
  for (let i = open; ; i++) {
    const c = raw[i]!;
    if (isWs(c)) continue;
    if (valueStart === -2) valueStart = i;
    if (c === QUOTE) {
      const end = stringEnd(raw, i);
      if (depth === 1 && valueStart === -1) key = keyText(raw, i, end);
      i = last = end;
      continue;
    }
    if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
    else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
    if (c === COLON) {
      colons++;
      if (depth === 1) {
        count++;
        valueStart = -2; // the next byte that is not a space starts the value
        continue;
      }
    }
    if ((depth === 1 && c === COMMA) || depth === 0) {
      if (valueStart >= 0) out.set(key, [valueStart, last + 1]);
      valueStart = -1;
      if (depth === 0) return { members: out, colons, count };
      continue;
    }
    last = i;
  }
}

/**
 * Own keys in a parsed JSON value, at every depth. A loop, not recursion:
 * JSON.parse accepts nesting far deeper than the call stack (the depth
 * limit's 400 comes later, from the estimate), and a stack overflow here
 * was a 500.
 */
function keysIn(v: unknown): number {
  let n = 0;
  const todo: unknown[] = [v];
  while (todo.length) {
    const x = todo.pop();
    if (!x || typeof x !== 'object') continue;
    if (Array.isArray(x)) {
      for (const e of x) todo.push(e);
      continue;
    }
    const o = x as Record<string, unknown>;
    for (const k in o) {
      n++;
      todo.push(o[k]);
    }
  }
  return n;
}

/** The first key (in document order) that an object of the (valid) JSON text repeats. */
export function firstDuplicateKey(raw: Buffer): string | undefined {
  const seen: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === QUOTE) {
      const end = stringEnd(raw, i);
      const top = seen[seen.length - 1];
      if (expectKey && top) {
        const k = keyText(raw, i, end);
        if (top.has(k)) return k;
        top.add(k);
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJ) {
      seen.push(new Set());
      expectKey = true;
    } else if (c === OPEN_ARR) {
      seen.push(null);
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      seen.pop();
    } else if (c === COMMA) {
      expectKey = seen[seen.length - 1] != null;
    }
  }
  return undefined;
}

export function duplicateKey(key: string): BadRequest {
  return new BadRequest(`request body has the key ${JSON.stringify(key)} twice in one object; send each key once`);
}

/** The layout of a body JSON.parse turned into `body` (an object); throws BadRequest on a duplicate key. */
export function bodyLayout(raw: Buffer, body: Record<string, unknown>): BodyLayout {
  let open = 0;
  while (raw[open] !== OPEN_OBJ) open++;
  const top = members(raw, open);
  if (top.colons !== keysIn(body)) throw duplicateKey(firstDuplicateKey(raw) ?? '?');
  const layout: BodyLayout = { raw, open, members: top.members };
  const so = top.members.get('stream_options');
  if (so && raw[so[0]] === OPEN_OBJ) {
    const inner = members(raw, so[0]);
    layout.streamOptions = { members: inner.members, count: inner.count };
  }
  return layout;
}
