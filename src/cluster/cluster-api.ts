import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import type { Exchange } from '../http/exchange.js';
import { errorBody } from '../http/errors.js';
import { isAdmin } from '../admin/admin-auth.js';
import { clusterView, type ClusterCounters } from './cluster-stats.js';

export interface ClusterApiDeps {
  config: Config;
  exchange: (res: HttpResponse) => Exchange;
  /** The lease manager's counters, from the supervisor (null on a single node). */
  counters: () => Promise<ClusterCounters | null>;
  /** Decisions made by every shard of this node. */
  decisions: () => Promise<number>;
}

/** GET /admin/cluster: this node's view of the shared budgets (admin token). */
export function mountClusterAdmin(app: TemplatedApp, deps: ClusterApiDeps): void {
  app.get('/admin/cluster', (res, req) => {
    const ex = deps.exchange(res);
    if (!deps.config.adminToken) {
      ex.json(404, errorBody('openai', 'not_found_error', 'the admin API is disabled: set adminToken in the config'));
      return;
    }
    if (!isAdmin(req.getHeader('authorization'), deps.config.adminToken)) {
      ex.json(401, errorBody('openai', 'authentication_error', 'admin API: send Authorization: Bearer <adminToken>'));
      return;
    }
    if (!deps.config.redis) {
      ex.json(200, { enabled: false, message: 'single node: no redis configured, budgets are decided by this node alone' });
      return;
    }
    Promise.all([deps.counters(), deps.decisions()]).then(
      ([c, decisions]) => (c ? ex.json(200, clusterView(c, decisions)) : ex.json(503, errorBody('openai', 'overloaded_error', 'cluster state unavailable'))),
      (err) => ex.json(503, errorBody('openai', 'overloaded_error', `cluster state unavailable: ${(err as Error).message}`)),
    );
  });
}
