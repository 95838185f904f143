import type { ShardContext } from '../proxy/shard-context.js';
import type { TargetHealthView } from '../routing/target-health.js';
import type { MainToShard, ShardToMain } from './messages.js';
import type { ReloadOutcome } from './routing-control.js';
import type { ThreadRpc } from './thread-rpc.js';

// The shard's side of routing-control.ts: answers health requests with this
// shard's snapshot, applies reloaded routes, and lets the admin API ask the
// supervisor for the merged health view or a reload.

const WAIT_MS = 10_000;

export class RoutingLink {
  constructor(private readonly ctx: ShardContext, private readonly rpc: ThreadRpc<ShardToMain>) {}

  /** Handles routing messages; false for any other message. */
  onMessage(m: MainToShard): boolean {
    switch (m.t) {
      case 'routing-health-request':
        this.rpc.post({ t: 'routing-health', id: m.id, shard: this.ctx.shard, targets: this.ctx.routes.health.snapshot(Date.now()) });
        return true;
      case 'routing-reload':
        // One synchronous swap: a call either planned on the old table or plans on the new one.
        this.ctx.routes.replace(m.routing);
        this.ctx.pools.retain(m.routing.providers);
        this.ctx.log('info', 'routes reloaded', { providers: m.routing.providers.length, routes: m.routing.routes.length });
        return true;
      case 'routing-health-collected':
        this.rpc.reply(m.id, m.targets);
        return true;
      case 'reload-result':
        this.rpc.reply(m.id, m.outcome);
        return true;
      default:
        return false;
    }
  }

  health(): Promise<TargetHealthView[]> {
    return this.rpc.request((id) => ({ t: 'routing-health-collect', id }), { timeoutMs: WAIT_MS, what: 'the supervisor (provider health)' });
  }

  reload(): Promise<ReloadOutcome> {
    return this.rpc.request((id) => ({ t: 'reload-request', id }), { timeoutMs: WAIT_MS, what: 'the supervisor (reload)' });
  }
}
