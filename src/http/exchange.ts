import type { HttpResponse } from 'uWebSockets.js';
import { statusLine } from './status-text.js';

export type Headers = Record<string, string>;

/**
 * One HTTP exchange on a uWS response: remembers whether the client went
 * away (uWS forbids touching `res` after that), corks every write made
 * outside the synchronous handler, and turns backpressure into a promise.
 */
export class Exchange {
  aborted = false;
  started = false;
  ended = false;
  #abortListeners: (() => void)[] = [];
  #writable: (() => void) | null = null;

  constructor(readonly res: HttpResponse, private readonly closeAfter: () => boolean) {
    res.onAborted(() => {
      this.aborted = true;
      this.#writable?.();
      for (const f of this.#abortListeners) f();
    });
  }

  onAbort(f: () => void): void {
    if (this.aborted) f();
    else this.#abortListeners.push(f);
  }

  /** Sends a complete answer. */
  send(status: number, headers: Headers, body: string | Uint8Array): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    this.started = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const k in headers) this.res.writeHeader(k, headers[k]!);
      this.res.end(body, this.closeAfter());
    });
  }

  json(status: number, body: unknown, headers: Headers = {}): void {
    this.send(status, { 'content-type': 'application/json', ...headers }, JSON.stringify(body));
  }

  /** Starts a streamed answer: status and headers now, body by write(). */
  begin(status: number, headers: Headers): void {
    if (this.aborted || this.started) return;
    this.started = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const k in headers) this.res.writeHeader(k, headers[k]!);
    });
  }

  /** Writes a chunk; resolves when the socket can take more (backpressure). */
  write(chunk: string | Uint8Array): Promise<void> | undefined {
    if (this.aborted || this.ended) return undefined;
    let ok = false;
    this.res.cork(() => {
      ok = this.res.write(chunk);
    });
    if (ok) return undefined;
    return new Promise<void>((resolve) => {
      this.#writable = () => {
        this.#writable = null;
        resolve();
      };
      this.res.onWritable(() => {
        this.#writable?.();
        return true;
      });
    });
  }

  end(chunk?: string | Uint8Array): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    // Not closeConnection here: uWS would cut a chunked answer before its final
    // chunk. A draining shard's sockets close when the worker exits.
    this.res.cork(() => {
      this.res.end(chunk ?? '');
    });
  }

  /** Cuts the connection (a stream that cannot be finished cleanly). */
  close(): void {
    if (this.aborted || this.ended) return;
    this.ended = true;
    this.res.close();
  }
}
