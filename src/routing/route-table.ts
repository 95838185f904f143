import type { Config, ProviderConfig, RouteConfig } from '../config/schema.js';
import { ENDPOINTS, type EndpointId } from '../protocols/call.js';
import { upstreamEndpointFor } from '../protocols/translate/upstream-endpoint.js';
import type { BreakerSettings } from './circuit-breaker.js';
import { DEFAULT_RETRY, RetryPolicy, type RetrySettings } from './retry-policy.js';
import { COOLING, HEALTHY, PROBE, TargetHealth, type HealthTarget } from './target-health.js';

// Logical model → the ordered list of targets to try. Tiers by priority
// (0 first). Within a tier: a target whose cooldown just ended goes first
// (it gets this call as its probe, and the rest of the tier backs it up);
// then smooth weighted round-robin among the healthy targets picks the
// first healthy one (3:1 weights give 3:1 traffic over any short run), and
// the rest of the tier follows by weight. Targets cooling down are left out
// and reported as skipped.

export interface Target extends HealthTarget {
  id: string; // provider/model, stable across reloads
  provider: ProviderConfig;
  model: string;
  /** The table id to price this target as (target's priceAs, else the provider's). */
  priceAs: string | undefined;
  weight: number;
  priority: number;
  breaker: BreakerSettings;
  timeouts: { firstByte: number; total: number };
}

interface Tier {
  targets: Target[];
  /** Smooth round-robin counters. */
  current: number[];
  /** Target indices by weight, heaviest first: the order of the fallbacks behind the first pick. */
  byWeight: number[];
  /** Scratch: each target's availability during one plan. */
  state: Uint8Array;
}
interface Route { tiers: Tier[]; retry: RetryPolicy }

export interface Skipped { target: Target; until: number }

export type RoutePlan =
  | { ok: true; logical: string; targets: Target[]; skipped: Skipped[]; retry: RetryPolicy }
  | { ok: false; status: 404 | 400; message: string };

export type RoutedPlan = Extract<RoutePlan, { ok: true }>;

const UNSERVABLE = 3;
const DIRECT_CACHE = 1024;
const DEFAULT_BREAKER: BreakerSettings = { failures: 5, cooldownMs: 30_000 };

export class RouteTable {
  /** This shard's target health: breakers, last errors, latencies. Survives reloads. */
  readonly health = new TargetHealth();
  #routes = new Map<string, Route>();
  #providers: readonly ProviderConfig[] = [];
  #retry = new RetryPolicy(DEFAULT_RETRY);
  /** Targets of models no route names, by endpoint and model (#directTarget). */
  #direct = new Map<string, Target>();
  /** The plan of a direct target that can be tried: the same for every call of its model (plans are only read), made once. */
  #directPlans = new WeakMap<Target, RoutedPlan>();

  constructor(config: Config) {
    this.replace(config);
  }

  /**
   * Swaps in new routes and providers (config reload). Calls in flight keep
   * the Target objects they planned with; breaker state of targets that
   * stay is kept.
   */
  replace(config: Pick<Config, 'providers' | 'routes' | 'retry'>): void {
    const byName = new Map(config.providers.map((p) => [p.name, p]));
    const routes = new Map<string, Route>();
    const declared: HealthTarget[] = [];
    const defaults = config.retry ?? DEFAULT_RETRY;
    for (const r of config.routes) {
      const tiers = new Map<number, Target[]>();
      for (const t of r.targets) {
        const provider = byName.get(t.provider)!;
        const target = makeTarget(provider, t.model, t.weight, t.priority, t.breaker, t.timeouts, t.priceAs);
        const list = tiers.get(t.priority) ?? [];
        list.push(target);
        tiers.set(t.priority, list);
        declared.push(target);
      }
      routes.set(r.model, {
        tiers: [...tiers.entries()].sort((a, b) => a[0] - b[0]).map(([, targets]) => ({
          targets,
          current: targets.map(() => 0),
          byWeight: targets.map((_, i) => i).sort((a, b) => targets[b]!.weight - targets[a]!.weight),
          state: new Uint8Array(targets.length),
        })),
        retry: new RetryPolicy(routeRetry(r, defaults)),
      });
    }
    this.#routes = routes;
    this.#providers = config.providers;
    this.#direct = new Map();
    this.#directPlans = new WeakMap();
    this.#retry = new RetryPolicy(defaults);
    this.health.configure(declared);
  }

  plan(model: string, endpoint: EndpointId, now: number): RoutePlan {
    const route = this.#routes.get(model);
    if (route) {
      const targets: Target[] = [];
      const skipped: Skipped[] = [];
      let servable = 0;
      for (const tier of route.tiers) {
        // Availability per target, in a scratch array the tier reuses (plans never interleave on a shard).
        const state = tier.state;
        let healthyCount = 0;
        for (let i = 0; i < tier.targets.length; i++) {
          const t = tier.targets[i]!;
          if (!upstreamEndpointFor(endpoint, t.provider.type)) {
            state[i] = UNSERVABLE;
            continue;
          }
          servable++;
          const a = this.health.availability(t, now);
          state[i] = a;
          if (a === PROBE) targets.push(t);
          else if (a === COOLING) skipped.push({ target: t, until: this.health.openUntil(t) });
          else healthyCount++;
        }
        if (!healthyCount) continue;
        const first = healthyCount === 1 ? state.indexOf(HEALTHY) : pickSmooth(tier);
        targets.push(tier.targets[first]!);
        if (healthyCount > 1) for (const i of tier.byWeight) if (i !== first && state[i] === HEALTHY) targets.push(tier.targets[i]!);
      }
      if (!servable) {
        return { ok: false, status: 400, message: `route "${model}" has no target that can serve ${ENDPOINTS[endpoint].path}` };
      }
      return { ok: true, logical: model, targets, skipped, retry: route.retry };
    }
    const target = this.#directTarget(model, endpoint);
    if (!target) {
      return { ok: false, status: 404, message: `model "${model}" is not served here: no route names it and no ${ENDPOINTS[endpoint].protocol} provider is configured` };
    }
    if (this.health.availability(target, now) === COOLING) {
      return { ok: true, logical: model, targets: [], skipped: [{ target, until: this.health.openUntil(target) }], retry: this.#retry };
    }
    let plan = this.#directPlans.get(target);
    if (!plan) {
      // Frozen: shared by calls, a change by one would be seen by all.
      const targets = Object.freeze([target]) as unknown as Target[];
      const skipped = Object.freeze([]) as unknown as Skipped[];
      this.#directPlans.set(target, (plan = Object.freeze({ ok: true as const, logical: model, targets, skipped, retry: this.#retry })));
    }
    return plan;
  }

  /**
   * The one target of a model no route names: the first provider whose model globs match it, else the
   * first of the endpoint's protocol. Made once per model and endpoint (a Target is never changed once
   * made, and calls share the routes' ones the same way); a reload starts over. Model names come from
   * clients, so only the first DIRECT_CACHE of them are kept.
   */
  #directTarget(model: string, endpoint: EndpointId): Target | undefined {
    const key = `${endpoint}\u0000${model}`;
    const known = this.#direct.get(key);
    if (known) return known;
    const provider = this.#providers.find((p) => upstreamEndpointFor(endpoint, p.type) && p.models.some((g) => globMatch(g, model)))
      ?? this.#providers.find((p) => p.type === ENDPOINTS[endpoint].protocol);
    if (!provider) return undefined;
    const target = makeTarget(provider, model, 1, 0, undefined, undefined);
    if (this.#direct.size < DIRECT_CACHE) this.#direct.set(key, target);
    return target;
  }

  /** The providers of the config in force. */
  providers(): readonly ProviderConfig[] {
    return this.#providers;
  }

  /** The physical model a logical one is priced as in listings: its first tier-0 target. */
  listedModel(model: string): string {
    return this.#routes.get(model)?.tiers[0]?.targets[0]?.model ?? model;
  }

  /** The routes' logical model names. */
  routeNames(): string[] {
    return [...this.#routes.keys()];
  }

}

function makeTarget(
  provider: ProviderConfig, model: string, weight: number, priority: number,
  breaker: { failures: number; cooldown: number } | undefined,
  timeouts: { firstByte?: number; total?: number } | undefined,
  priceAs?: string,
): Target {
  const b = breaker ?? provider.breaker;
  return {
    id: `${provider.name}/${model}`,
    provider,
    model,
    priceAs: priceAs ?? provider.priceAs,
    weight,
    priority,
    breaker: b ? { failures: b.failures, cooldownMs: b.cooldown } : DEFAULT_BREAKER,
    timeouts: {
      firstByte: timeouts?.firstByte ?? provider.timeouts.firstByte,
      total: timeouts?.total ?? provider.timeouts.total,
    },
  };
}

function routeRetry(r: RouteConfig, defaults: RetrySettings): RetrySettings {
  return { maxAttempts: r.retry?.maxAttempts ?? defaults.maxAttempts, on: r.retry?.on ?? defaults.on };
}

/** nginx's smooth weighted round-robin over the healthy targets of a tier. */
function pickSmooth(tier: Tier): number {
  let best = -1;
  let total = 0;
  for (let i = 0; i < tier.targets.length; i++) {
    if (tier.state[i] !== HEALTHY) continue;
    const w = tier.targets[i]!.weight;
    total += w;
    tier.current[i]! += w;
    if (best < 0 || tier.current[i]! > tier.current[best]!) best = i;
  }
  tier.current[best]! -= total;
  return best;
}

export function globMatch(glob: string, s: string): boolean {
  if (!glob.includes('*')) return glob === s;
  const re = new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(s);
}
