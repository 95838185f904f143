import { Pool } from 'undici';
import type { ProviderConfig } from '../config/schema.js';

/** One keep-alive connection pool per provider, per shard. */
export class UpstreamPools {
  // Keyed by the provider's pool settings, not only its name: after a config
  // reload that changed a provider, calls still in flight keep their old
  // pool while new calls get a new one (see retain).
  readonly #pools = new Map<string, { pool: Pool; basePath: string }>();
  readonly #keys = new WeakMap<ProviderConfig, string>();

  #key(p: ProviderConfig): string {
    let k = this.#keys.get(p);
    if (k === undefined) {
      k = `${p.name}\u0000${p.baseUrl}\u0000${p.connections}\u0000${p.timeouts.connect}\u0000${p.timeouts.firstByte}`;
      this.#keys.set(p, k);
    }
    return k;
  }

  /** After a reload: pools no current provider uses close gracefully (their calls in flight finish first). */
  retain(providers: readonly ProviderConfig[]): void {
    const keep = new Set(providers.map((p) => this.#key(p)));
    for (const [k, e] of this.#pools) {
      if (keep.has(k)) continue;
      this.#pools.delete(k);
      void e.pool.close().catch(() => {});
    }
  }

  get(p: ProviderConfig): { pool: Pool; basePath: string } {
    const key = this.#key(p);
    let e = this.#pools.get(key);
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
      this.#pools.set(key, e);
    }
    return e;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((e) => e.pool.close()));
    this.#pools.clear();
  }
}
