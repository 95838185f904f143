import type { Redis, Result } from 'ioredis';
import type { DeliveryGate, GateVerdict } from '../alerts/deliverer.js';
import type { RedisLink } from './redis-link.js';

// Alerts once per cluster (issue 15.3). Every node that sees a threshold
// crossed writes it to its own durable outbox, as on a single node; the
// decision to deliver is then taken once for the cluster: before sending a
// delivery (event id + channel, the same on every node: the id is a hash of
// budget, threshold and period) a node claims it in Redis:
//   <node id>   that node is delivering it (PX: claimTtl)
//   done        it was delivered (kept DONE_MS)
// The outbox entry is written before the claim and removed only after
// `done`, so a node killed mid-delivery loses nothing: its claim lapses and
// any node holding the same entry (every node that saw the crossing) takes
// it over; the node itself, restarted, finds its own claim and resumes.
// A crash between the channel accepting and `done` being written is the one
// case that delivers twice, with the same event id (webhook receivers
// de-duplicate on it).

/** A year and a month: longer than any budget period that resets. */
const DONE_MS = 400 * 24 * 3_600_000;

const LUA = `
local v = redis.call('GET', KEYS[1])
if ARGV[1] == 'claim' then
  if v == 'done' then return 'skip' end
  if v and v ~= ARGV[2] then return 'later' end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 'send'
end
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[3])
return 'done'
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tgAlert(key: string, ...args: string[]): Result<string, Context>;
  }
}

export function defineAlertScript(redis: Redis): void {
  redis.defineCommand('tgAlert', { numberOfKeys: 1, lua: LUA });
}

export class AlertClaims implements DeliveryGate {
  constructor(
    private readonly link: RedisLink,
    private readonly opts: { nodeId: string; keyPrefix: string; claimTtlMs: number; open: boolean },
  ) {}

  async claim(deliveryId: string): Promise<GateVerdict> {
    // Redis away: wait for it (closed: never twice), or deliver from this node (open: may be twice).
    const away: GateVerdict = this.opts.open ? 'send' : 'later';
    if (!this.link.up) return away;
    try {
      return (await this.link.command<string>((p) => p.tgAlert(this.#key(deliveryId), 'claim', this.opts.nodeId, String(this.opts.claimTtlMs)))) as GateVerdict;
    } catch {
      return away;
    }
  }

  delivered(deliveryId: string): Promise<void> {
    if (!this.link.up) return Promise.resolve();
    return this.link.command((p) => p.tgAlert(this.#key(deliveryId), 'done', this.opts.nodeId, String(DONE_MS))).then(() => undefined, () => undefined);
  }

  #key(deliveryId: string): string {
    return `${this.opts.keyPrefix}alert:${deliveryId}`;
  }
}
