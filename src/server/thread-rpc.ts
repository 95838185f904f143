// Request/reply between threads (supervisor ↔ shard over a worker port,
// shard ↔ shard over a BroadcastChannel). One shape for every exchange: each
// request gets an id, a deadline and a reason to fail; a reply that comes
// after its deadline (or after close) is ignored, never applied twice; and
// close() rejects everything still waiting, so shutdown never hangs on a
// thread that will not answer.

export class RpcTimeout extends Error {
  readonly code = 'TG_RPC_TIMEOUT';
}

export class RpcClosed extends Error {
  readonly code = 'TG_RPC_CLOSED';
}

export interface RequestOptions {
  timeoutMs: number;
  /** Names the exchange in the timeout message ("scope resolution", "shard 2"...). */
  what: string;
  /** Builds the timeout error instead of RpcTimeout (callers with their own error types). */
  onTimeout?: (message: string) => Error;
}

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class ThreadRpc<Out> {
  readonly #waiting = new Map<number, Waiter>();
  #next = 1;
  #closed: string | undefined;

  /** `send` posts one message; it is given the request's id to embed. */
  constructor(private readonly send: (m: Out) => void) {}

  /** Sends `build(id)` and resolves with the value passed to `reply(id, …)`. */
  request<T>(build: (id: number) => Out, opts: RequestOptions): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(new RpcClosed(`${opts.what}: ${this.#closed}`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        const message = `${opts.what} did not answer within ${opts.timeoutMs} ms`;
        reject(opts.onTimeout ? opts.onTimeout(message) : new RpcTimeout(message));
      }, opts.timeoutMs);
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.send(build(id));
      } catch (err) {
        this.#waiting.delete(id);
        clearTimeout(timer);
        reject(err as Error);
      }
    });
  }

  /** Sends a message that expects no reply (an answer to the other side's request, a notice). */
  post(m: Out): void {
    this.send(m);
  }

  /** Delivers a reply. Returns false when nothing waits for `id` (late or unknown): the reply is dropped. */
  reply(id: number, value: unknown): boolean {
    const w = this.#take(id);
    w?.resolve(value);
    return !!w;
  }

  /** Delivers a failure reply. */
  fail(id: number, err: Error): boolean {
    const w = this.#take(id);
    w?.reject(err);
    return !!w;
  }

  /** Rejects every request still waiting and refuses new ones. */
  close(reason = 'closed'): void {
    this.#closed = reason;
    for (const [id, w] of this.#waiting) {
      clearTimeout(w.timer);
      this.#waiting.delete(id);
      w.reject(new RpcClosed(reason));
    }
  }

  get pending(): number {
    return this.#waiting.size;
  }

  #take(id: number): Waiter | undefined {
    const w = this.#waiting.get(id);
    if (!w) return undefined;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    return w;
  }
}
