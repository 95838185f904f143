import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ClusterClaim } from './idempotency-script.js';
import type { RedisLink } from './redis-link.js';
import { idempotencyKey } from './redis-keys.js';

// Main-thread half of idempotency across nodes (issue 15.2). A shard that
// claimed a key in its node's table (idempotency-claims.ts) then claims it
// in Redis (one round trip, on the path of calls that carry a key only);
// when the call ends it says whether the call was charged, and the claim
// becomes that outcome (kept idempotencyWindow) or is freed.
//
// Redis unreachable: the shard gets `unavailable` and the redisDown policy
// decides (closed: 503 idempotency_unavailable; open: the node's own claims
// only). Outcomes that could not be written are kept and written once Redis
// is back, so a retry on another node after the outage still finds them.

export interface IdempotencyTiming { holdMs: number; windowMs: number; keyPrefix: string }

interface Unsent { key: string; owner: string; charged: string }

/** At most this many outcomes wait for Redis to come back; beyond it the oldest are dropped (and logged). */
const MAX_UNSENT = 100_000;

export class IdempotencyLeases {
  #unsent: Unsent[] = [];
  dropped = 0;

  constructor(private readonly link: RedisLink, private readonly t: IdempotencyTiming) {
    link.whenUp(() => this.#resend());
  }

  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    if (m.t === 'idem-claim') {
      void this.claim(m.customer, m.key, m.requestId).then((claim) => post({ t: 'idem-claim-answer', id: m.id, claim }));
      return true;
    }
    if (m.t === 'idem-finish') {
      this.finish(m.customer, m.key, m.requestId, m.chargedRequestId);
      return true;
    }
    return false;
  }

  async claim(customer: string, key: string, requestId: string): Promise<ClusterClaim> {
    if (!this.link.up) return { outcome: 'unavailable' };
    try {
      const [outcome, who] = await this.link.command<[string, string]>((p) => p.tgIdem(idempotencyKey(this.t.keyPrefix, customer, key), 'claim', requestId, String(this.t.holdMs)));
      if (outcome === 'claimed') return { outcome };
      return { outcome: outcome === 'done' ? 'done' : 'in_flight', requestId: who };
    } catch {
      return { outcome: 'unavailable' };
    }
  }

  /** `charged`: the request id of the charged row, or '' (nothing charged: the key is free again). */
  finish(customer: string, key: string, requestId: string, charged: string): void {
    const u: Unsent = { key: idempotencyKey(this.t.keyPrefix, customer, key), owner: requestId, charged };
    this.#send(u);
  }

  #send(u: Unsent): void {
    const keep = () => {
      // A free key needs no message: its claim lapses by itself.
      if (!u.charged) return;
      if (this.#unsent.length >= MAX_UNSENT) {
        this.#unsent.shift();
        this.dropped++;
      }
      this.#unsent.push(u);
    };
    if (!this.link.up) return keep();
    this.link.command((p) => p.tgIdem(u.key, 'finish', u.owner, String(u.charged ? this.t.windowMs : 0), u.charged)).catch(keep);
  }

  #resend(): void {
    const all = this.#unsent;
    this.#unsent = [];
    for (const u of all) this.#send(u);
  }

  get stats() {
    return { unsent: this.#unsent.length, dropped: this.dropped };
  }
}
