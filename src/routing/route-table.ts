import type { Config, ProviderConfig } from '../config/schema.js';
import type { Protocol } from '../protocols/call.js';

// Logical model → the ordered list of targets to try. Tiers by priority
// (0 first); within a tier the first pick is smooth weighted round-robin
// (3:1 weights give 3:1 traffic over any short run), the rest of the tier
// follows as fallbacks by weight.

export interface Target {
  id: string; // provider/model, stable across reloads
  provider: ProviderConfig;
  model: string;
  weight: number;
  priority: number;
}

interface Tier { targets: Target[]; current: number[]; total: number }

export type RoutePlan =
  | { ok: true; logical: string; targets: Target[] }
  | { ok: false; status: 404 | 400; message: string };

export class RouteTable {
  readonly #routes = new Map<string, Tier[]>();
  readonly #providers: ProviderConfig[];

  constructor(config: Config) {
    this.#providers = config.providers;
    const byName = new Map(config.providers.map((p) => [p.name, p]));
    for (const r of config.routes) {
      const tiers = new Map<number, Target[]>();
      for (const t of r.targets) {
        const provider = byName.get(t.provider)!;
        const list = tiers.get(t.priority) ?? [];
        list.push({ id: `${provider.name}/${t.model}`, provider, model: t.model, weight: t.weight, priority: t.priority });
        tiers.set(t.priority, list);
      }
      this.#routes.set(
        r.model,
        [...tiers.entries()].sort((a, b) => a[0] - b[0]).map(([, targets]) => ({
          targets,
          current: targets.map(() => 0),
          total: targets.reduce((s, t) => s + t.weight, 0),
        })),
      );
    }
  }

  plan(model: string, protocol: Protocol): RoutePlan {
    const tiers = this.#routes.get(model);
    if (tiers) {
      const targets: Target[] = [];
      for (const tier of tiers) {
        const usable = tier.targets.filter((t) => t.provider.type === protocol);
        if (!usable.length) continue;
        const first = usable.length === tier.targets.length ? pickSmooth(tier) : usable[0]!;
        targets.push(first, ...usable.filter((t) => t !== first).sort((a, b) => b.weight - a.weight));
      }
      if (!targets.length) {
        return { ok: false, status: 400, message: `route "${model}" has no target speaking the ${protocol} protocol` };
      }
      return { ok: true, logical: model, targets };
    }
    const claimed = this.#providers.find((p) => p.type === protocol && p.models.some((g) => globMatch(g, model)));
    const provider = claimed ?? this.#providers.find((p) => p.type === protocol);
    if (!provider) return { ok: false, status: 404, message: `model "${model}" is not served here: no route names it and no ${protocol} provider is configured` };
    return { ok: true, logical: model, targets: [{ id: `${provider.name}/${model}`, provider, model, weight: 1, priority: 0 }] };
  }

  /** Logical model names clients may ask for (for GET /v1/models). */
  models(): string[] {
    const names = new Set(this.#routes.keys());
    for (const p of this.#providers) for (const g of p.models) if (!g.includes('*')) names.add(g);
    return [...names];
  }
}

/** nginx's smooth weighted round-robin. */
function pickSmooth(tier: Tier): Target {
  let best = 0;
  for (let i = 0; i < tier.targets.length; i++) {
    tier.current[i]! += tier.targets[i]!.weight;
    if (tier.current[i]! > tier.current[best]!) best = i;
  }
  tier.current[best]! -= tier.total;
  return tier.targets[best]!;
}

export function globMatch(glob: string, s: string): boolean {
  if (!glob.includes('*')) return glob === s;
  const re = new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(s);
}
