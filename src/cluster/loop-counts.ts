import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { RedisLink } from './redis-link.js';

// The loop guard's repeats counted across nodes (issue 15.1, loop-check.ts):
// one counter per (body fingerprint, window), INCRBY per repeat, expiring
// with the window. Unreachable Redis answers 0: the node's own count decides.

export class LoopCounts {
  constructor(private readonly link: RedisLink, private readonly keyPrefix: string) {}

  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    if (m.t !== 'loop-hit') return false;
    void this.hit(m.fingerprint, m.windowMs, m.epoch, m.add).then((count) => post({ t: 'loop-hit-answer', id: m.id, count }));
    return true;
  }

  async hit(fingerprint: string, windowMs: number, epoch: number, add: number): Promise<number> {
    if (!this.link.up) return 0;
    const key = `${this.keyPrefix}loop:${fingerprint.slice(0, 32)}:${epoch}`;
    const count = this.link.command<number>((p) => p.incrby(key, add));
    this.link.write((p) => p.pexpire(key, 2 * windowMs));
    return count.then(Number, () => 0);
  }
}
