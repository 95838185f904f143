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
// one whose verdict is FORWARD and whose only effect is on the text.

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

/** b[at, at + bytes.length) equals `bytes` (short names: a loop beats a native call). */
function sameBytes(b: Buffer, at: number, bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (b[at + i] !== bytes[i]) return false;
  return true;
}

/** Where the value after `"key"` starts (past the colon and blanks), or -1. */
function valueAt(ev: Buffer, keyEnd: number): number {
  let i = keyEnd;
  while (ev[i] === 0x20 || ev[i] === 0x09 || ev[i] === 0x0a) i++;
  if (ev[i] !== COLON) return -1;
  i++;
  while (ev[i] === 0x20 || ev[i] === 0x09 || ev[i] === 0x0a) i++;
  return i;
}

/** Events kept for the text before they are run through the text tracker anyway. */
const KEEP_BYTES = 1024 * 1024;

export class StreamWatch {
  readonly tracker: StreamTracker;
  readonly #triggers: Buffer[];
  /** The `"model":"…"` value bytes of the last event parsed for its model. */
  #modelBytes: Buffer | undefined;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #textTracker: StreamTracker | undefined;
  /** Where the triggers are in the events of the last scan(), ascending; the first not behind the event being inspected. */
  #hits: number[] = [];
  #nextHit = 0;

  /** False when this endpoint's events must all be inspected (use the tracker directly). */
  static covers(endpoint: EndpointId): boolean {
    return TRIGGERS[endpoint] !== undefined;
  }

  constructor(readonly endpoint: EndpointId, private readonly clientWantsUsage: boolean) {
    this.tracker = new StreamTracker(endpoint, clientWantsUsage);
    this.#triggers = [...ALWAYS, ...TRIGGERS[endpoint]!].map((t) => Buffer.from(t));
  }

  get usage() {
    return this.tracker.usage;
  }

  get model() {
    return this.tracker.model;
  }

  /**
   * Whole events just scanned (SseScanner.push), before their inspect() calls:
   * kept for the text, and searched once for the triggers (one search of the
   * chunk per trigger, not one per event).
   */
  scan(events: Buffer): void {
    if (!events.length) return;
    this.#kept.push(events);
    this.#keptBytes += events.length;
    if (this.#keptBytes > KEEP_BYTES) this.#runKept();
    const hits: number[] = [];
    for (const t of this.#triggers) for (let i = events.indexOf(t); i >= 0; i = events.indexOf(t, i + t.length)) hits.push(i);
    if (this.endpoint === 'chat') {
      for (let i = events.indexOf(USAGE_KEY); i >= 0; i = events.indexOf(USAGE_KEY, i + 1)) {
        const v = valueAt(events, i + USAGE_KEY.length);
        if (v >= 0 && events.indexOf(NULL, v) !== v) hits.push(i);
      }
    }
    this.#hits = hits.sort((x, y) => x - y);
    this.#nextHit = 0;
  }

  /** The verdict on the event events[start, end) (in order, after scan(events)). */
  inspect(events: Buffer, start: number, end: number): EventVerdict {
    if (this.#matters(events, start, end)) return this.tracker.inspect(events.toString('utf8', start, end));
    this.tracker.events++;
    return FORWARD;
  }

  #matters(b: Buffer, start: number, end: number): boolean {
    const hits = this.#hits;
    while (this.#nextHit < hits.length && hits[this.#nextHit]! < start) this.#nextHit++;
    const hit = this.#nextHit < hits.length && hits[this.#nextHit]! < end;
    // The last model named wins (as the tracker reads it): an event naming another one than the last is parsed.
    const m = b.indexOf(MODEL_KEY, start);
    if (m < 0 || m >= end) return hit;
    const v = valueAt(b, m + MODEL_KEY.length);
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
