// Splits an SSE byte stream into whole events (text up to and including the
// blank line), so the relay forwards, drops or holds back whole events.

export class SseSplitter {
  #decoder = new TextDecoder();
  #buf = '';
  readonly #maxEvent: number;

  constructor(maxEventBytes = 8 * 1024 * 1024) {
    this.#maxEvent = maxEventBytes;
  }

  push(chunk: Uint8Array): string[] {
    let text = this.#decoder.decode(chunk, { stream: true });
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    this.#buf += text;
    const events: string[] = [];
    let start = 0;
    for (;;) {
      const i = this.#buf.indexOf('\n\n', start);
      if (i < 0) break;
      events.push(this.#buf.slice(start, i + 2));
      start = i + 2;
    }
    this.#buf = start ? this.#buf.slice(start) : this.#buf;
    if (this.#buf.length > this.#maxEvent) throw new Error(`upstream sent an SSE event larger than ${this.#maxEvent} bytes`);
    return events;
  }

  /** Whatever is left when the stream ends (an unterminated event). */
  rest(): string {
    this.#buf += this.#decoder.decode();
    const r = this.#buf;
    this.#buf = '';
    return r;
  }
}

export interface SseEvent { event: string; data: string }

export function parseEvent(raw: string): SseEvent {
  let event = '';
  let data = '';
  let pos = 0;
  while (pos < raw.length) {
    let nl = raw.indexOf('\n', pos);
    if (nl < 0) nl = raw.length;
    const line = raw.slice(pos, nl);
    pos = nl + 1;
    if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
    else if (line.startsWith('event:')) event = line.slice(line[6] === ' ' ? 7 : 6).trim();
  }
  return { event, data };
}
