import type { HttpResponse } from 'uWebSockets.js';
import type { Protocol } from '../protocols/call.js';
import { newRequestId } from '../proxy/request-id.js';
import { errorBody, errorStatus, type ErrorType } from './errors.js';
import { headerBytes, statusBytes } from './status-text.js';

export type Headers = Record<string, string>;

const REQUEST_ID = 'x-tollgate-request-id';
const REQUEST_ID_BYTES = Buffer.from(REQUEST_ID);

/**
 * Exchanges waiting for a client to take more of a streamed answer. uWS does
 * not time out a response stuck on backpressure, so a client that stops
 * reading would hold its call (and its budget hold) forever; the shard's
 * once-a-second sweep closes those that made no progress for too long.
 */
const stalled = new Map<Exchange, number>(); // → stalled since (ms)

/** Closes connections whose client has taken nothing for `maxMs` (all stalled ones when maxMs is 0). Returns how many. */
export function closeStalledWrites(now: number, maxMs: number): number {
  let n = 0;
  for (const [ex, since] of stalled) {
    if (now - since >= maxMs) {
      stalled.delete(ex);
      ex.cut();
      n++;
    }
  }
  return n;
}

// send()'s arguments for its cork callback: one function for every answer instead of a closure per answer
// (cork runs the callback at once, and nothing in it sends another answer).
let sending: Exchange | undefined;
let sendStatus = 0;
const NO_HEADERS: Headers = {};
let sendHeaders: Headers = NO_HEADERS;
let sendBody: string | Uint8Array = '';
function writeAnswer(): void {
  const ex = sending!;
  const headers = sendHeaders;
  const body = sendBody;
  sending = undefined;
  sendHeaders = NO_HEADERS;
  sendBody = '';
  ex.writeAnswer(sendStatus, headers, body);
}

// write()'s and end()'s arguments for their cork callbacks, the same way (a streamed answer writes once per upstream read).
let writing: Exchange | undefined;
let writeChunk: string | Uint8Array = '';
let writeOk = false;
function writeCorked(): void {
  const ex = writing!;
  const chunk = writeChunk;
  writing = undefined;
  writeChunk = '';
  writeOk = ex.writeChunk(chunk);
}
function endCorked(): void {
  const ex = writing!;
  const chunk = writeChunk;
  writing = undefined;
  writeChunk = '';
  ex.endChunk(chunk);
}

/**
 * One HTTP exchange on a uWS response: remembers whether the client went
 * away (uWS forbids touching `res` after that), corks every write made
 * outside the synchronous handler, and turns backpressure into a promise.
 */
export class Exchange {
  aborted = false;
  started = false;
  ended = false;
  /** Made at the first listener: most exchanges never get one. */
  #abortListeners: (() => void)[] | undefined;
  #writable: (() => void) | null = null;

  /**
   * `closeAfter`: close the connection after a complete answer (draining).
   * `baseHeaders`: sent on every answer (security headers of the admin API).
   */
  constructor(readonly res: HttpResponse, private readonly closeAfter: () => boolean, private readonly baseHeaders?: Headers) {
    res.onAborted(() => {
      this.aborted = true;
      // A throw inside a uWS callback would abort the process: contain it here.
      try {
        this.#writable?.();
        if (this.#abortListeners) for (const f of this.#abortListeners) f();
      } catch (err) {
        process.emitWarning(`abort listener failed: ${(err as Error)?.message ?? err}`);
      }
    });
  }

  onAbort(f: () => void): void {
    if (this.aborted) f();
    else (this.#abortListeners ??= []).push(f);
  }

  /** Close the connection after the answer: set for a request whose body will not be read (too large, too slow). */
  closeConnection = false;

  /** Sends a complete answer. */
  send(status: number, headers: Headers, body: string | Uint8Array): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    this.started = true;
    sending = this;
    sendStatus = status;
    sendHeaders = headers;
    sendBody = body;
    this.res.cork(writeAnswer);
  }

  /** The writes of send(), inside its cork (writeAnswer). */
  writeAnswer(status: number, headers: Headers, body: string | Uint8Array): void {
    this.res.writeStatus(statusBytes(status));
    this.#writeBase(headers);
    for (const k in headers) this.res.writeHeader(headerBytes(k), headers[k]!);
    this.res.end(body, this.closeConnection || this.closeAfter());
  }

  json(status: number, body: unknown, headers: Headers = {}): void {
    this.send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify(body));
  }

  /** Sends an error answer: its status is the registry's for `type` (errors.ts), its body in `protocol`'s shape. */
  fail(protocol: Protocol, type: ErrorType, message: string, extra?: Record<string, unknown>, headers: Headers = {}): void {
    this.json(errorStatus(type), errorBody(protocol, type, message, extra), headers);
  }

  /** Base headers, and a request id when the answer brings none: every answer carries x-tollgate-request-id. */
  #writeBase(headers: Headers): void {
    if (!(REQUEST_ID in headers)) this.res.writeHeader(REQUEST_ID_BYTES, newRequestId());
    const b = this.baseHeaders;
    if (b) for (const k in b) this.res.writeHeader(headerBytes(k), b[k]!);
  }

  /** Status and headers of a begun answer not sent yet: they go out with its first bytes. */
  #head: { status: number; headers: Headers } | undefined;

  /**
   * Starts a streamed answer: status and headers, body by write(). `withFirstWrite`:
   * they are sent with the first write (or the end), in the same socket write.
   */
  begin(status: number, headers: Headers, withFirstWrite = false): void {
    if (this.aborted || this.started) return;
    this.started = true;
    this.#head = { status, headers };
    if (!withFirstWrite) this.res.cork(() => this.#writeHead());
  }

  #writeHead(): void {
    const head = this.#head;
    if (!head) return;
    this.#head = undefined;
    this.res.writeStatus(statusBytes(head.status));
    this.#writeBase(head.headers);
    for (const k in head.headers) this.res.writeHeader(headerBytes(k), head.headers[k]!);
  }

  /** Writes a chunk; resolves when the socket can take more (backpressure). */
  write(chunk: string | Uint8Array): Promise<void> | undefined {
    if (this.aborted || this.ended) return undefined;
    writing = this;
    writeChunk = chunk;
    writeOk = false;
    this.res.cork(writeCorked);
    if (writeOk) return undefined;
    stalled.set(this, Date.now());
    return new Promise<void>((resolve) => {
      this.#writable = () => {
        this.#writable = null;
        stalled.delete(this);
        resolve();
      };
      this.res.onWritable(() => {
        this.#writable?.();
        return true;
      });
    });
  }

  /** The writes of write(), inside its cork (writeCorked). */
  writeChunk(chunk: string | Uint8Array): boolean {
    this.#writeHead();
    return this.res.write(chunk);
  }

  end(chunk?: string | Uint8Array): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    // Not closeConnection here: uWS would cut a chunked answer before its final
    // chunk. A draining shard's sockets close when the worker exits.
    writing = this;
    writeChunk = chunk ?? '';
    this.res.cork(endCorked);
  }

  /** The writes of end(), inside its cork (endCorked). */
  endChunk(chunk: string | Uint8Array): void {
    this.#writeHead();
    this.res.end(chunk);
  }

  /** Cuts the connection whatever its state (a client that stopped reading); the abort listeners run. */
  cut(): void {
    if (this.aborted) return;
    this.res.close(); // uWS runs onAborted
  }

  /** Cuts the connection (a stream that cannot be finished cleanly). */
  close(): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    // A begun answer's status reaches the client before the cut, as if it had been sent at once.
    if (this.#head) this.res.cork(() => this.#writeHead());
    this.res.close();
  }
}
