import { nativePath, OUT, scannedUsage, scannedValue } from '../native/native-addon.js';
import { Kind, S, Status } from '../native/scan-slots.js';
import type { EndpointId } from './call.js';
import { eventEnd } from './sse.js';
import { StreamTracker, type EventVerdict } from './stream-tracker.js';

// The byte-level front of the StreamTracker, for the relay's common case (no
// translation, no growing hold): most events of a stream are text deltas
// that only need forwarding, so an event is decoded and parsed only when its
// bytes show it can matter — it may end the stream, carry usage, or name a
// model other than the last one seen. The generated text (needed only when
// the usage must be counted ourselves) is not extracted as the stream goes:
// the events are kept, up to a bound, and run through a tracker of their
// own when the text is asked for (past the bound, as they come).
//
// The triggers over-approximate: a text that happens to contain
// "message_stop" costs one parse, never a wrong verdict, because the
// verdict, usage and model always come from StreamTracker.inspect on the
// event's text. An event that matches none of them is, for the tracker,
// one whose verdict is FORWARD and whose only effect is on the text. What
// the bytes cannot show is parsed too: a key spelled with escapes
// ({"us\u0061ge":…}; escapes in values do not count: text deltas are full
// of them), a "usage" or "model" whose colon or value is on the next data
// line (the parse joins the lines), an event with a second "model" (the
// last one is kept), and on Responses and Messages an event holding a
// backslash whose type may come from its data (no event: line naming one):
// "message\u005fstop" is message_stop to the tracker.
//
// With the native addon, one call finds the events of a batch and what each
// holds (native/src/sse_scan.cc, the same rules): the JavaScript searches
// cost a call across to C++ per event and key (about a hundred for a
// 23-event answer), which was most of the relay's own work. The relay then
// passes over the events that only need forwarding in one step (skip()),
// and a chat event that matters is not parsed whole: the native JSON
// scanner validates its data and finds its top-level "model" and "usage"
// (the last of each, as JSON.parse keeps), and only those are parsed — the
// parse built the whole event (choices, deltas, every key) to read two
// fields, and was most of what a stream cost past forwarding its bytes.

const FORWARD: EventVerdict = { forward: true, terminal: false };

const ALWAYS = ['[DONE]'];
const TRIGGERS: Partial<Record<EndpointId, readonly string[]>> = {
  chat: [],
  responses: ['response.completed', 'response.incomplete', 'response.failed', 'response.created'],
  messages: ['message_start', 'message_delta', 'message_stop'],
};
/** Chat: the usage chunk (OpenAI sends `"usage":null` in every chunk once include_usage is on: only an object matters). */
const USAGE_KEY = Buffer.from('"usage"');
const MODEL_KEY = Buffer.from('"model"');
const NULL = Buffer.from('null');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const DATA = Buffer.from('data:');
const DONE = Buffer.from('[DONE]');
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const OPEN_BRACE = 0x7b;

/** b[at, at + bytes.length) equals `bytes` (short names: a loop beats a native call). */
function sameBytes(b: Buffer, at: number, bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (b[at + i] !== bytes[i]) return false;
  return true;
}

/** valueAt: a line end came before the colon or the value. */
const LINE_END = -2;

/**
 * Where the value after `"key"` starts (past the colon and blanks), -1 when
 * no colon follows, LINE_END when a line ends first (the colon or the value
 * may start the next data line: the parse joins the lines, so what follows
 * is not read from the bytes; sse_scan.cc valueAt).
 */
function valueAt(ev: Buffer, keyEnd: number): number {
  let i = keyEnd;
  while (ev[i] === SPACE || ev[i] === TAB) i++;
  if (ev[i] === LF) return LINE_END;
  if (ev[i] !== COLON) return -1;
  i++;
  while (ev[i] === SPACE || ev[i] === TAB) i++;
  return ev[i] === LF ? LINE_END : i;
}

/** Past a string's closing quote at q - 1: a colon after blanks, or the line's end (sse_scan.cc keyFollows). */
function keyFollows(b: Buffer, q: number, end: number): boolean {
  while (q < end && (b[q] === SPACE || b[q] === TAB)) q++;
  return q < end && (b[q] === COLON || b[q] === LF);
}

/**
 * Whether the event b[start, end) has a JSON object key spelled with escapes
 * ({"us\u0061ge":…} is "usage" to JSON.parse, unseen by the byte searches):
 * a string holding a backslash and followed by a colon. Escapes in values
 * (text deltas' \n, \", \u00e9) do not count. Walked line by line, as no JSON
 * string holds a raw line feed (sse_scan.cc escapedKey, the same rule; the
 * caller has seen a backslash in the event: most events hold none).
 */
function escapedKey(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (b[i] !== QUOTE) continue;
    let escaped = false;
    let q = i + 1;
    for (; q < end && b[q] !== QUOTE && b[q] !== LF; q++) {
      if (b[q] !== BACKSLASH) continue;
      escaped = true;
      if (q + 1 < end && b[q + 1] !== LF) q++; // the escaped byte; never a line's end
    }
    if (q >= end) return false;
    if (b[q] === QUOTE && escaped && keyFollows(b, q + 1, end)) return true;
    i = q; // the closing quote, or the line feed that shows the quote opened no JSON string
  }
  return false;
}

const EVENT = Buffer.from('event:');

/**
 * Responses and messages: whether the tracker may take the event b[start, end)'s
 * type from its data's "type" (event || j.type), which escapes may spell
 * ("message\u005fstop") out of the trigger search's sight: no event: line, a
 * blank one, or several (the last counts: not worth finding). One event: line
 * naming a type is plain bytes, which the trigger search sees (sse_scan.cc
 * typeFromData, the same rule).
 */
function typeFromData(b: Buffer, start: number, end: number): boolean {
  let named = false;
  let seen = 0;
  // Line by line (an event has few lines).
  for (let i = start; i < end; ) {
    if (sameBytes(b, i, EVENT)) {
      if (seen++) return true;
      // Not blank to trim() (other bytes may be: taken as blank).
      for (let k = i + EVENT.length; k < end && b[k] !== LF && !named; k++) named = b[k]! > SPACE && b[k]! < 0x7f;
    }
    const nl = b.indexOf(LF, i);
    if (nl < 0) break;
    i = nl + 1;
  }
  return !named;
}

/** The JSON string at OUT[slot], OUT[slot + 1] (from `from`; valid, as the scanner found it): its bytes between the quotes as they are, unless it holds an escape. */
function stringOf(b: Buffer, from: number, slot: number): unknown {
  const s = from + OUT[slot]! + 1;
  const e = from + OUT[slot + 1]! - 1;
  for (let i = s; i < e; i++) if (b[i] === BACKSLASH) return scannedValue(b, slot, from);
  return b.toString('utf8', s, e);
}

/** Events kept for the text before they are run through the text tracker anyway. */
const KEEP_BYTES = 1024 * 1024;

const native = nativePath.kind === 'native' ? nativePath.addon : undefined;
/** native/src/sse_scan.h: endpoint codes, slots per event, flags. */
const SSE_ENDPOINT: Partial<Record<EndpointId, number>> = { chat: 0, responses: 1, messages: 2 };
const CHAT = SSE_ENDPOINT.chat;
const SLOTS = 5;
/** Slot of an event's bound on the UTF-8 bytes of its text (native/src/sse_scan.cc textBound). */
const TEXT = 4;
const HIT = 1;
const MODEL = 2;
const MODEL_ESCAPED = 4;
/**
 * What the addon found, shared by the shard's streams: a batch's events are
 * inspected in one synchronous run, and a watch that finds another's results
 * here (or none for its event) scans again from its event.
 */
const FOUND = new Int32Array(512 * SLOTS);
let foundBy: StreamWatch | undefined;

export class StreamWatch {
  readonly tracker: StreamTracker;
  readonly #triggers: Buffer[];
  /** The `"model":"…"` value bytes of the last event parsed for its model. */
  #modelBytes: Buffer | undefined;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  /** The events keep() was last given: kept up to #openEnd so far (it extends that chunk by chunk), in #kept up to #openFrom. */
  #open: Buffer | undefined;
  #openFrom = 0;
  #openEnd = 0;
  #textTracker: StreamTracker | undefined;
  /** Where the triggers are in the events of the last scan(), ascending; the first not behind the event being inspected. */
  #hits: number[] = [];
  #nextHit = 0;
  /** A backslash in the events of the last scan() at or after the event being inspected (or the first one after it), -1 when none is. */
  #slash = -1;
  /** The same for `"model"`, past the first one in the event inspected last (a second one there, or the next event's first). */
  #modelKey = -1;
  /** Native: the events FOUND describes (when foundBy is this watch), from where, how many, and the one inspected last. */
  #found: Buffer | undefined;
  #foundFrom = 0;
  #foundCount = 0;
  #foundAt = 0;
  /** Native: the events of FOUND before this index are in #textBytes. */
  #textUpTo = 0;
  #textBytes = 0;
  readonly #code: number | undefined;

  /** False when this endpoint's events must all be inspected (use the tracker directly). */
  static covers(endpoint: EndpointId): boolean {
    return TRIGGERS[endpoint] !== undefined;
  }

  /** The watch bounds the text's bytes as it goes (textBytes), so a growing hold can use it: with the addon only. */
  static get boundsText(): boolean {
    return native !== undefined;
  }

  constructor(readonly endpoint: EndpointId, private readonly clientWantsUsage: boolean) {
    this.tracker = new StreamTracker(endpoint, clientWantsUsage);
    this.#code = native ? SSE_ENDPOINT[endpoint] : undefined;
    this.#triggers = this.#code === undefined ? [...ALWAYS, ...TRIGGERS[endpoint]!].map((t) => Buffer.from(t)) : [];
  }

  get usage() {
    return this.tracker.usage;
  }

  get model() {
    return this.tracker.model;
  }

  /**
   * Whole events just scanned (SseScanner.push), before their inspect() calls:
   * kept for the text (up to `keepTo`; the rest by keep()), and searched once
   * for the triggers (one search of the chunk per trigger, not one per event).
   */
  scan(events: Buffer, keepTo = events.length): void {
    if (!events.length) return;
    if (keepTo) this.keep(events, keepTo);
    if (this.#code !== undefined) {
      // Found when first inspected (#locate).
      this.#found = undefined;
      return;
    }
    const hits: number[] = [];
    for (const t of this.#triggers) for (let i = events.indexOf(t); i >= 0; i = events.indexOf(t, i + t.length)) hits.push(i);
    if (this.endpoint === 'chat') {
      for (let i = events.indexOf(USAGE_KEY); i >= 0; i = events.indexOf(USAGE_KEY, i + 1)) {
        const v = valueAt(events, i + USAGE_KEY.length);
        if (v === LINE_END || (v >= 0 && events.indexOf(NULL, v) !== v)) hits.push(i);
      }
    }
    this.#hits = hits.sort((x, y) => x - y);
    this.#nextHit = 0;
    this.#slash = events.indexOf(BACKSLASH);
    this.#modelKey = events.indexOf(MODEL_KEY);
  }

  /**
   * Keeps events[0, to) for the text: scan() keeps those it is given up to
   * `keepTo`; a relay that may stop at the edge of any upstream chunk of a
   * read keeps the rest chunk by chunk as it reaches each (the same events,
   * a further `to`), so the text counted (and billed) is never that of a
   * chunk it did not reach.
   */
  keep(events: Buffer, to: number): void {
    if (this.#open !== events) {
      this.#close();
      this.#open = events;
      this.#openFrom = this.#openEnd = 0;
    }
    if (to <= this.#openEnd) return;
    this.#keptBytes += to - this.#openEnd;
    this.#openEnd = to;
    if (this.#keptBytes > KEEP_BYTES) this.#runKept();
  }

  /** Moves what is kept of the open events into #kept (the rest may still be kept later). */
  #close(): void {
    const open = this.#open;
    if (!open || this.#openEnd === this.#openFrom) return;
    this.#kept.push(this.#openFrom === 0 && this.#openEnd === open.length ? open : open.subarray(this.#openFrom, this.#openEnd));
    this.#openFrom = this.#openEnd;
  }

  /** The end of the event that starts at `start` in events (after scan(events)): eventEnd(), found natively with the rest. */
  end(events: Buffer, start: number): number {
    const k = this.#code === undefined ? -1 : this.#locate(events, start);
    return k < 0 ? eventEnd(events, start) : FOUND[k * SLOTS]!;
  }

  /**
   * With the addon: an upper bound on the UTF-8 bytes of the generated text
   * of the events inspected or skipped so far (the raw bytes of its JSON
   * string values, or an event's whole size where that could miss some;
   * native/src/sse_scan.cc textBound). It bounds the output's tokens without
   * decoding a byte.
   */
  get textBytes(): number {
    return this.#textBytes;
  }

  /** Adds the text bounds of FOUND's events before index k not added yet. */
  #textThrough(k: number): void {
    let t = this.#textBytes;
    for (let i = this.#textUpTo; i < k; i++) t += FOUND[i * SLOTS + TEXT]!;
    this.#textBytes = t;
    if (k > this.#textUpTo) this.#textUpTo = k;
  }

  /** The verdict on the event events[start, end) (in order, after scan(events)). */
  inspect(events: Buffer, start: number, end: number): EventVerdict {
    const matters = this.#code === undefined ? this.#matters(events, start, end) : this.#mattersNative(events, start, end);
    if (!matters) {
      this.tracker.events++;
      return FORWARD;
    }
    return (this.#readsTop && this.#chatTop(events, start, end)) || this.tracker.inspect(events.toString('utf8', start, end));
  }

  /**
   * Where the first event at or after `start` that matters begins (events.length
   * when none does): the events before it only need forwarding, and are counted
   * as inspected. Without the addon, `start` (each event is inspected).
   * `room`: the text bytes (textBytes) the caller can take unseen; the first
   * event that would bring the events passed over to it is not passed over
   * (a growing hold looks at it), so stopping there is the same as looking
   * at every event. `end`: no event ending past it is passed over (the
   * edge of the chunk the caller is at).
   */
  skip(events: Buffer, start: number, room = Infinity, end = events.length): number {
    if (this.#code === undefined || start >= end) return start;
    let k = this.#locate(events, start);
    if (k < 0) return start;
    let at = start;
    let text = 0;
    while (k < this.#foundCount && FOUND[k * SLOTS]! <= end && !this.#mattersAt(events, k)) {
      if ((text += FOUND[k * SLOTS + TEXT]!) >= room) break;
      at = FOUND[k * SLOTS]!;
      k++;
    }
    this.#textThrough(k);
    if (k > this.#foundAt) {
      this.tracker.events += k - this.#foundAt;
      this.#foundAt = k;
    }
    return at;
  }

  /** Chat, with the addon, for a client that wants the usage chunk (its drop reads "choices"). */
  get #readsTop(): boolean {
    return this.#code === CHAT && this.clientWantsUsage;
  }

  /**
   * A one-line `data:` chat event read without JSON.parse of all of it (the
   * tracker's verdict from its top-level model and usage); undefined when it
   * is anything else (more lines, no JSON object, not valid JSON), left to the tracker.
   */
  #chatTop(b: Buffer, start: number, end: number): EventVerdict | undefined {
    if (end - start < 8 || !sameBytes(b, start, DATA) || b.indexOf(LF, start) !== end - 2) return undefined;
    const from = b[start + DATA.length] === SPACE ? start + DATA.length + 1 : start + DATA.length;
    const to = end - 2;
    if (from === to || (to - from === DONE.length && sameBytes(b, from, DONE))) return undefined;
    if (native!.scanAnswer(b, from, to) !== Status.OK || b[from + OUT[S.OBJ_OPEN]!] !== OPEN_BRACE) return undefined;
    const top: { model?: unknown; usage?: unknown } = {};
    if (OUT[S.MODEL_KIND] === Kind.STRING) top.model = stringOf(b, from, S.MODEL_S); // another kind is not read as the model
    const usage = OUT[S.USAGE_KIND]!;
    if (usage === Kind.OBJECT && OUT[S.USAGE_PLAIN] === 1) top.usage = scannedUsage();
    else if (usage !== Kind.ABSENT && usage !== Kind.NULL && usage !== Kind.FALSE) top.usage = scannedValue(b, S.USAGE_S, from);
    return this.tracker.inspectChatTop(top);
  }

  /** Index in FOUND of the event starting at `start`, scanning (again) from there when FOUND does not hold it; -1 when no whole event starts there. */
  #locate(events: Buffer, start: number): number {
    if (foundBy === this && this.#found === events && start >= this.#foundFrom) {
      let i = this.#foundAt;
      if (i > 0 && FOUND[(i - 1) * SLOTS]! > start) i = 0;
      while (i < this.#foundCount && FOUND[i * SLOTS]! <= start) i++;
      const from = i === 0 ? this.#foundFrom : FOUND[(i - 1) * SLOTS]!;
      if (i < this.#foundCount && from === start) return (this.#foundAt = i);
    }
    foundBy = this;
    this.#found = events;
    this.#foundFrom = start;
    this.#foundAt = 0;
    this.#textUpTo = 0;
    this.#foundCount = native!.scanSse(events, start, this.#code!, FOUND);
    return this.#foundCount ? 0 : -1;
  }

  /** #matters, from what the addon found: the same rules (native/src/sse_scan.cc). */
  #mattersNative(b: Buffer, start: number, end: number): boolean {
    const at = this.#locate(b, start);
    if (at < 0) {
      this.#textBytes += end - start; // not a whole event (SseScanner never gives one): the parser reads it, its size bounds its text
      return true;
    }
    this.#textThrough(at + 1);
    if (!this.#mattersAt(b, at)) return false;
    const k = at * SLOTS;
    const flags = FOUND[k + 1]!;
    // A model other than the last one seen (or an escaped one, which the parser reads): it is the one to compare with next.
    if (flags & MODEL) {
      if (!this.#knownModel(b, k)) this.#modelBytes = Buffer.from(b.subarray(FOUND[k + 2]!, FOUND[k + 3]!)); // a copy: the chunk it came from is let go
    } else if (flags & MODEL_ESCAPED) {
      this.#modelBytes = undefined;
    }
    return true;
  }

  /** Whether the event at index `at` of FOUND matters (it holds a trigger, or names a model other than the last one seen); changes nothing. */
  #mattersAt(b: Buffer, at: number): boolean {
    const k = at * SLOTS;
    const flags = FOUND[k + 1]!;
    if (flags & MODEL ? !this.#knownModel(b, k) : flags & MODEL_ESCAPED) return true;
    return (flags & HIT) !== 0;
  }

  /** The plain model value FOUND[k + 2, k + 3) is the last one seen. */
  #knownModel(b: Buffer, k: number): boolean {
    const from = FOUND[k + 2]!;
    const known = this.#modelBytes;
    return known !== undefined && known.length === FOUND[k + 3]! - from && sameBytes(b, from, known);
  }

  #matters(b: Buffer, start: number, end: number): boolean {
    const hits = this.#hits;
    while (this.#nextHit < hits.length && hits[this.#nextHit]! < start) this.#nextHit++;
    let hit = this.#nextHit < hits.length && hits[this.#nextHit]! < end;
    // A key spelled with escapes may be a "usage" or a second "model" (the one JSON.parse keeps): parsed, and the
    // model it names is not known by its bytes, so the next event naming a model is parsed too. The next backslash is
    // searched for again only once the events pass it (each byte is searched once per scan).
    if (this.#slash >= 0 && this.#slash < start) this.#slash = b.indexOf(BACKSLASH, start);
    const slash = this.#slash >= 0 && this.#slash < end;
    if (slash && escapedKey(b, start, end)) {
      this.#modelBytes = undefined;
      return true;
    }
    if (slash && !hit && this.endpoint !== 'chat') hit = typeFromData(b, start, end);
    // The last model named wins (as the tracker reads it): an event naming another one than the last is parsed.
    // The next "model" is searched for once (as the backslash): past this one, it shows a second one here.
    if (this.#modelKey >= 0 && this.#modelKey < start) this.#modelKey = b.indexOf(MODEL_KEY, start);
    const m = this.#modelKey;
    if (m < 0 || m >= end) return hit;
    this.#modelKey = b.indexOf(MODEL_KEY, m + 1);
    const v = valueAt(b, m + MODEL_KEY.length);
    // A second "model" (JSON.parse keeps the last), or a value on another line: the parser reads which.
    if (v === LINE_END || (this.#modelKey >= 0 && this.#modelKey < end)) {
      this.#modelBytes = undefined;
      return true;
    }
    if (v < 0 || v >= end || b[v] !== QUOTE) return hit;
    const known = this.#modelBytes;
    if (known && b[v + 1 + known.length] === QUOTE && sameBytes(b, v + 1, known)) return hit;
    const to = b.indexOf(QUOTE, v + 1);
    if (to < 0 || to >= end || b.subarray(v + 1, to).includes(BACKSLASH)) {
      // An escaped name: the parser reads it, and the next event naming a model is parsed too.
      this.#modelBytes = undefined;
      return true;
    }
    this.#modelBytes = Buffer.from(b.subarray(v + 1, to)); // a copy: the chunk it came from is let go
    return true;
  }

  #runKept(): void {
    const t = (this.#textTracker ??= new StreamTracker(this.endpoint, this.clientWantsUsage));
    this.#close();
    for (const events of this.#kept) {
      for (let s = 0; s < events.length; ) {
        const e = eventEnd(events, s);
        t.inspect(events.toString('utf8', s, e));
        s = e;
      }
    }
    this.#kept = [];
    this.#keptBytes = 0;
  }

  /**
   * A tracker that has read every event so far (the kept ones, run now): what
   * an ending of our own needs to look like the upstream's (lengthEnding: the
   * answer's id, its choices, a Responses stream's output) is in events the
   * watch passed over.
   */
  get everyEvent(): StreamTracker {
    this.#runKept();
    return this.#textTracker!;
  }

  /** The generated text of the events kept so far (see StreamTracker.text). */
  get text(): string {
    this.#runKept();
    return this.#textTracker!.text;
  }

  get textComplete(): boolean {
    this.#runKept();
    return this.#textTracker!.textComplete;
  }
}
