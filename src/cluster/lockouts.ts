import { createHash } from 'node:crypto';
import type { AuthFailureLimiter } from '../admin/auth-failure-limiter.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { RedisLink } from './redis-link.js';

// Admin-token guesses counted across nodes (issue 15.4). Shards already
// share one count per address (auth-failure-limiter.ts); each failure is
// also INCRed in Redis, in a counter per address and minute, and the
// node's count is raised to the cluster's. The lockout itself is still
// decided in memory before the token is compared. Redis unreachable (either
// redisDown policy): every node counts its own failures, as without Redis.

const WINDOW_MS = 60_000;

export class Lockouts {
  constructor(private readonly limiter: AuthFailureLimiter, private readonly link: RedisLink, private readonly keyPrefix: string) {}

  onMessage(m: ShardToMain, _post: (m: MainToShard) => void): boolean {
    if (m.t !== 'auth-failure') return false;
    this.failed(m.address, Date.now());
    return true;
  }

  failed(address: string, now: number): void {
    if (!this.link.up) return;
    const key = `${this.keyPrefix}authfail:${createHash('sha256').update(address).digest('hex').slice(0, 24)}:${Math.floor(now / WINDOW_MS)}`;
    this.link.command<number>((p) => p.incr(key)).then((count) => this.limiter.raise(address, Number(count), now), () => {});
    this.link.write((p) => p.pexpire(key, 2 * WINDOW_MS));
  }
}
