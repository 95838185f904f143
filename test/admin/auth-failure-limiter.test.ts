import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../../src/admin/auth-failure-limiter.js';

// The token-failure limiter's table is shared memory: limiters built on the
// same buffer (one per shard) count one address together.

const T0 = Date.UTC(2026, 0, 1);

describe('auth failure limiter', () => {
  it('locks an address out after max failures counted across every shard, until its minute ends', () => {
    const sab = AuthFailureLimiter.createBuffer();
    const shards = [new AuthFailureLimiter(5, sab), new AuthFailureLimiter(5, sab)];
    for (let i = 0; i < 4; i++) shards[i % 2]!.fail('10.0.0.1', T0 + i * 1000);
    expect(shards[0]!.blockedFor('10.0.0.1', T0 + 4000)).toBe(0);
    shards[1]!.fail('10.0.0.1', T0 + 5000);
    expect(shards[0]!.blockedFor('10.0.0.1', T0 + 5000)).toBe(55); // the window began with the first failure
    expect(shards[1]!.blockedFor('10.0.0.1', T0 + 59_000)).toBe(1);
    expect(shards[1]!.blockedFor('10.0.0.1', T0 + 60_000)).toBe(0);
    expect(shards[0]!.blockedFor('10.0.0.2', T0 + 5000)).toBe(0);
  });

  it('keeps counting each address on its own when thousands of addresses fail', () => {
    const l = new AuthFailureLimiter(3);
    for (let a = 0; a < 3000; a++) l.fail(`192.168.${a >> 8}.${a & 255}`, T0);
    for (let k = 0; k < 3; k++) l.fail('10.9.9.9', T0 + 1000);
    expect(l.blockedFor('10.9.9.9', T0 + 1000)).toBeGreaterThan(0);
    expect(l.blockedFor('192.168.0.7', T0 + 1000)).toBe(0);
  });
});
