import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Config } from '../config/schema.js';
import type { Exchange } from '../http/exchange.js';
import { errorBody } from '../http/errors.js';
import { isAdmin } from '../admin/admin-auth.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';

// GET /metrics on every shard. The shard only relays: the supervisor gathers
// every shard's registry and renders the text (see prometheus-text.ts).

export interface MetricsRouteDeps {
  config: Config;
  exchange: (res: HttpResponse) => Exchange;
  collectText: () => Promise<string>;
}

export function mountMetrics(app: TemplatedApp, deps: MetricsRouteDeps): void {
  const { metrics } = deps.config;
  app.get('/metrics', (res, req) => {
    const ex = deps.exchange(res);
    if (!metrics.enabled) {
      ex.json(404, errorBody('openai', 'not_found_error', 'metrics are disabled (metrics.enabled: false)'));
      return;
    }
    if (metrics.token && !isAdmin(req.getHeader('authorization'), metrics.token)) {
      ex.json(401, errorBody('openai', 'authentication_error', 'metrics: send Authorization: Bearer <metrics.token>'));
      return;
    }
    deps.collectText().then(
      (text) => ex.send(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }, text),
      (err) => ex.json(503, errorBody('openai', 'overloaded_error', `metrics unavailable: ${(err as Error).message}`)),
    );
  });
}
