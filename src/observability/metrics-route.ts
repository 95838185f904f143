import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import type { Guard } from '../admin/admin-guard.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';

// GET /metrics on every shard. The shard only relays: the supervisor gathers
// every shard's registry and renders the text (see prometheus-text.ts).

export interface MetricsRouteDeps {
  config: Config;
  guard: Guard;
  collectText: () => Promise<string>;
}

export function mountMetrics(app: TemplatedApp, deps: MetricsRouteDeps): void {
  const { metrics } = deps.config;
  app.get('/metrics', (res, req) => {
    // metrics.token set: the same guard (limiter, headers) as the admin API; unset: open, with the same headers.
    const ex = deps.guard(res, req);
    if (!ex) return;
    if (!metrics.enabled) {
      ex.fail('openai', 'not_found_error', 'metrics are disabled (metrics.enabled: false)');
      return;
    }
    deps.collectText().then(
      (text) => ex.send(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }, text),
      (err) => ex.fail('openai', 'overloaded_error', `metrics unavailable: ${(err as Error).message}`),
    );
  });
}
