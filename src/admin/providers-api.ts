import type { TemplatedApp } from 'uWebSockets.js';
import type { ShardContext } from '../proxy/shard-context.js';
import type { TargetHealthView } from '../routing/target-health.js';
import type { ReloadOutcome } from '../server/routing-control.js';
import type { Guard } from './admin-guard.js';

// GET /admin/providers: every provider and the health of each of its
// targets, merged across shards (state, cooldown end, last error, latency
// to the upstream's answer head p50/p99). POST /admin/reload: re-read the
// config file; providers, routes and retry settings change without a
// restart, an invalid file is refused (400, every problem listed) and the
// running config stays.

export interface ProvidersDeps {
  ctx: ShardContext;
  guard: Guard;
  health: () => Promise<TargetHealthView[]>;
  reload: () => Promise<ReloadOutcome>;
}

export function mountProviders(app: TemplatedApp, deps: ProvidersDeps): void {
  const { ctx } = deps;
  const { guard } = deps;

  app.get('/admin/providers', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    deps.health().then((views) => {
      const byProvider = new Map<string, TargetHealthView[]>();
      for (const v of views) {
        const list = byProvider.get(v.provider) ?? [];
        list.push(v);
        byProvider.set(v.provider, list);
      }
      ex.json(200, {
        at: new Date().toISOString(),
        providers: ctx.routes.providers().map((p) => ({
          name: p.name,
          type: p.type,
          // The origin only: a base URL may carry credentials in its path or query.
          origin: new URL(p.baseUrl).origin,
          targets: byProvider.get(p.name) ?? [],
        })),
      });
    }, (err) => ex.fail('openai', 'overloaded_error', (err as Error).message));
  });

  app.post('/admin/reload', (res, req) => {
    const ex = guard(res, req);
    if (!ex) return;
    deps.reload().then((outcome) => {
      if (outcome.ok) ex.json(200, outcome);
      else ex.fail('openai', 'invalid_config', `config rejected, the running config stays: ${outcome.problems.join('; ')}`, { problems: outcome.problems });
    }, (err) => ex.fail('openai', 'overloaded_error', (err as Error).message));
  });
}
