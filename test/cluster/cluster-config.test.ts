import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loaded without error');
}

describe('cluster config', () => {
  it('defaults to fail-closed leases of 10 s, written behind every 200 ms', () => {
    const c = parseConfig({ redis: 'redis://127.0.0.1:6390' }, {});
    expect(c.cluster).toEqual({
      leaseTtl: 10_000, redisDown: 'closed', flushInterval: 200, idleReturn: 3_000, leaseFraction: 0.5, redisTimeout: 1_000, keyPrefix: 'tollgate:',
    });
  });

  it('takes durations as strings and a node id', () => {
    const c = parseConfig({ redis: 'redis://r:6379', cluster: { leaseTtl: '30s', redisDown: 'open', nodeId: 'eu-1' } }, {});
    expect(c.cluster).toMatchObject({ leaseTtl: 30_000, redisDown: 'open', nodeId: 'eu-1' });
  });

  it('names the bad field', () => {
    expect(problems({ cluster: { redisDown: 'maybe' } })[0]).toMatch(/^cluster\.redisDown: .*'closed' \| 'open'/);
    expect(problems({ cluster: { nodeId: 'has space' } })[0]).toMatch(/^cluster\.nodeId: letters, digits/);
    expect(problems({ cluster: { leaseFraction: 0 } })[0]).toMatch(/^cluster\.leaseFraction: /);
  });
});
