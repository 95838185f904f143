import type { ShardContext } from '../proxy/shard-context.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ThreadRpc } from '../server/thread-rpc.js';
import type { ControlAnswer, ControlOp } from './control-plane.js';

// The shard's side of the control plane: admin writes go to the supervisor
// (the one writer), which answers once every shard applied the change;
// changes arrive here as deltas, are applied in one synchronous step and
// acknowledged. Keys used since the last flush go up in one batch, so
// last_used_at costs a Map.set per call, not a write.

/** A write waits for the commit and every shard's acknowledgement: generous, but bounded. */
const WRITE_WAIT_MS = 30_000;

export class ControlLink {
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly ctx: ShardContext, private readonly rpc: ThreadRpc<ShardToMain>, flushMs: number) {
    this.#timer = setInterval(() => this.flushUsed(), flushMs);
    this.#timer.unref();
  }

  /** Handles control-plane messages; false for any other message. */
  onMessage(m: MainToShard): boolean {
    switch (m.t) {
      case 'control-apply':
        this.ctx.control.apply(m.change);
        this.rpc.post({ t: 'control-applied', id: m.id });
        return true;
      case 'control-answer':
        this.rpc.reply(m.id, m.answer);
        return true;
      default:
        return false;
    }
  }

  write(actor: string, op: ControlOp): Promise<ControlAnswer> {
    return this.rpc.request((id) => ({ t: 'control', id, actor, op }), { timeoutMs: WRITE_WAIT_MS, what: 'the supervisor (control-plane write)' });
  }

  flushUsed(): void {
    const used = this.ctx.keys.takeUsed();
    if (used.size) this.rpc.post({ t: 'keys-used', used: [...used] });
  }

  close(): void {
    clearInterval(this.#timer);
    this.flushUsed();
  }
}
