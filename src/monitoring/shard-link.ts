import { BroadcastChannel } from 'node:worker_threads';
import { ThreadRpc } from '../server/thread-rpc.js';
import { errorBody, errorStatus } from '../http/errors.js';

// Request/answer between the shards of one server, for monitoring calls
// that must run on the shard owning a reservation. Shards are worker
// threads of one process, so a BroadcastChannel reaches all of them without
// the supervisor; each message names its target shard and the others drop
// it. A restarted shard joins the channel again under the same number (and
// answers "unknown reservation": the supervisor returned its holds when the
// old one died). No answer within the timeout is an error the caller turns
// into a retryable 503 — never a guess, so an event cannot be charged twice.

export interface LinkAnswer { status: number; body: unknown }

type Wire =
  | { k: 'req'; id: number; from: number; to: number; op: unknown }
  | { k: 'res'; id: number; to: number; answer: LinkAnswer };

export class ShardLinkTimeout extends Error {
  readonly code = 'TG_SHARD_LINK_TIMEOUT';
}

export class ShardLink {
  readonly #channel: BroadcastChannel;
  readonly #rpc: ThreadRpc<Wire>;

  constructor(
    name: string,
    readonly shard: number,
    private readonly handle: (op: unknown) => Promise<LinkAnswer>,
    private readonly timeoutMs = 5_000,
  ) {
    this.#channel = new BroadcastChannel(name);
    // The channel must not keep a draining worker alive.
    (this.#channel as unknown as { unref(): void }).unref();
    this.#channel.onmessage = (ev) => this.#receive((ev as MessageEvent).data as Wire);
    this.#rpc = new ThreadRpc<Wire>((m) => this.#channel.postMessage(m));
  }

  /** Runs `op` on shard `to` and resolves with its answer. */
  call(to: number, op: unknown): Promise<LinkAnswer> {
    return this.#rpc.request<LinkAnswer>((id) => ({ k: 'req', id, from: this.shard, to, op }), {
      timeoutMs: this.timeoutMs,
      what: `shard ${to}`,
      onTimeout: (message) => new ShardLinkTimeout(message),
    });
  }

  #receive(m: Wire): void {
    if (m.to !== this.shard) return;
    if (m.k === 'res') {
      this.#rpc.reply(m.id, m.answer); // answered after its timeout: dropped, the caller already gave up
      return;
    }
    this.handle(m.op).then(
      (answer) => this.#channel.postMessage({ k: 'res', id: m.id, to: m.from, answer } satisfies Wire),
      (err) => this.#channel.postMessage({ k: 'res', id: m.id, to: m.from, answer: { status: errorStatus('internal_error'), body: errorBody('openai', 'internal_error', String((err as Error)?.message ?? err)) } } satisfies Wire),
    );
  }

  close(): void {
    this.#rpc.close('shard link closed');
    this.#channel.close();
  }
}
