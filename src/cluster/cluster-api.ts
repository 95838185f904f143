import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import type { Guard } from '../admin/admin-guard.js';
import { clusterView, type ClusterCounters } from './cluster-stats.js';

export interface ClusterApiDeps {
  config: Config;
  guard: Guard;
  /** The lease manager's counters, from the supervisor (null on a single node). */
  counters: () => Promise<ClusterCounters | null>;
  /** Decisions made by every shard of this node. */
  decisions: () => Promise<number>;
}

/** GET /admin/cluster: this node's view of the shared budgets (admin token). */
export function mountClusterAdmin(app: TemplatedApp, deps: ClusterApiDeps): void {
  app.get('/admin/cluster', (res, req) => {
    const ex = deps.guard(res, req);
    if (!ex) return;
    if (!deps.config.redis) {
      ex.json(200, { enabled: false, message: 'single node: no redis configured, budgets are decided by this node alone' });
      return;
    }
    Promise.all([deps.counters(), deps.decisions()]).then(
      ([c, decisions]) => (c ? ex.json(200, clusterView(c, decisions)) : ex.fail('openai', 'overloaded_error', 'cluster state unavailable')),
      (err) => ex.fail('openai', 'overloaded_error', `cluster state unavailable: ${(err as Error).message}`),
    );
  });
}
