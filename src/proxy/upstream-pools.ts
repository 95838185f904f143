import { Pool } from 'undici';
import type { ProviderConfig } from '../config/schema.js';

/** One keep-alive connection pool per provider, per shard. */
export class UpstreamPools {
  readonly #pools = new Map<string, { pool: Pool; basePath: string }>();

  get(p: ProviderConfig): { pool: Pool; basePath: string } {
    let e = this.#pools.get(p.name);
    if (!e) {
      const url = new URL(p.baseUrl);
      e = {
        pool: new Pool(url.origin, {
          connections: p.connections,
          pipelining: 1,
          connect: { timeout: p.timeouts.connect },
          headersTimeout: p.timeouts.firstByte,
          bodyTimeout: p.timeouts.firstByte,
          keepAliveTimeout: 30_000,
        }),
        basePath: url.pathname.replace(/\/+$/, ''),
      };
      this.#pools.set(p.name, e);
    }
    return e;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((e) => e.pool.close()));
    this.#pools.clear();
  }
}
