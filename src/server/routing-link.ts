import type { ShardContext } from '../proxy/shard-context.js';
import type { TargetHealthView } from '../routing/target-health.js';
import type { MainToShard, ShardToMain } from './messages.js';
import type { ReloadOutcome } from './routing-control.js';

// The shard's side of routing-control.ts: answers health requests with this
// shard's snapshot, applies reloaded routes, and lets the admin API ask the
// supervisor for the merged health view or a reload.

const WAIT_MS = 10_000;

export class RoutingLink {
  readonly #waiters = new Map<number, (v: unknown) => void>();
  #seq = 1;

  constructor(private readonly ctx: ShardContext, private readonly send: (m: ShardToMain) => void) {}

  /** Handles routing messages; false for any other message. */
  onMessage(m: MainToShard): boolean {
    switch (m.t) {
      case 'routing-health-request':
        this.send({ t: 'routing-health', id: m.id, shard: this.ctx.shard, targets: this.ctx.routes.health.snapshot(Date.now()) });
        return true;
      case 'routing-reload':
        // One synchronous swap: a call either planned on the old table or plans on the new one.
        this.ctx.routes.replace(m.routing);
        this.ctx.pools.retain(m.routing.providers);
        this.ctx.log('info', 'routes reloaded', { providers: m.routing.providers.length, routes: m.routing.routes.length });
        return true;
      case 'routing-health-collected':
        this.#settle(m.id, m.targets);
        return true;
      case 'reload-result':
        this.#settle(m.id, m.outcome);
        return true;
      default:
        return false;
    }
  }

  health(): Promise<TargetHealthView[]> {
    return this.#ask((id) => ({ t: 'routing-health-collect', id }));
  }

  reload(): Promise<ReloadOutcome> {
    return this.#ask((id) => ({ t: 'reload-request', id }));
  }

  #ask<T>(message: (id: number) => ShardToMain): Promise<T> {
    const id = this.#seq++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new Error('the supervisor did not answer in time'));
      }, WAIT_MS);
      this.#waiters.set(id, (v) => {
        clearTimeout(timer);
        resolve(v as T);
      });
      this.send(message(id));
    });
  }

  #settle(id: number, v: unknown) {
    const w = this.#waiters.get(id);
    this.#waiters.delete(id);
    w?.(v);
  }
}
