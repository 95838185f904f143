import type { Config } from '../config/schema.js';
import { ConfigError, loadConfigFile } from '../config/load-config.js';
import { mergeHealth, type TargetSnapshot } from '../routing/target-health.js';
import type { MainToShard } from './messages.js';

// The main thread's side of routing: config reload (SIGHUP, POST
// /admin/reload) and gathering every shard's target health for GET
// /admin/providers.
//
// A reload re-reads and re-validates the whole file; an invalid file is
// rejected and the running config stays. A valid one replaces providers,
// routes and retry settings on every shard: each shard swaps its route
// table in one synchronous step, calls in flight finish on the targets
// they planned with, and breaker state of targets that stay is kept. Other
// sections (customers, budgets, listen, ...) are reported as needing a
// restart rather than half-applied.

export type RoutingConfig = Pick<Config, 'providers' | 'routes' | 'retry'>;

export type ReloadOutcome =
  | { ok: true; applied: string[]; restart_required: string[]; providers: number; routes: number }
  | { ok: false; problems: string[] };

const APPLIED = ['providers', 'routes', 'retry'] as const;
/** Sections the CLI may override; a difference there is the override, not an edit. */
const CLI_OVERRIDDEN = new Set(['listen', 'shards', 'dataDir']);
const HEALTH_WAIT_MS = 2_000;

interface Gather { origin: number; reply: number; pending: Set<number>; snapshots: TargetSnapshot[][]; timer: NodeJS.Timeout }

export class RoutingControl {
  #live: Config;
  readonly #gathers = new Map<number, Gather>();
  #seq = 1;

  constructor(
    config: Config,
    private readonly configFile: string | undefined,
    private readonly shards: () => { index: number; post: (m: MainToShard) => void }[],
    private readonly log: (msg: string) => void,
  ) {
    this.#live = config;
  }

  /** The config new or restarted shards start with (the last one successfully reloaded). */
  get config(): Config {
    return this.#live;
  }

  reload(): ReloadOutcome {
    if (!this.configFile) return { ok: false, problems: ['this server was started without a config file to reload'] };
    let next: Config;
    try {
      next = loadConfigFile(this.configFile);
    } catch (err) {
      if (err instanceof ConfigError) {
        this.log(`tollgate: reload rejected, keeping the running config: ${err.message}`);
        return { ok: false, problems: err.problems };
      }
      throw err;
    }
    const restartRequired = Object.keys({ ...next, ...this.#live }).filter((k) =>
      !(APPLIED as readonly string[]).includes(k) && !CLI_OVERRIDDEN.has(k)
      && JSON.stringify((next as Record<string, unknown>)[k]) !== JSON.stringify((this.#live as Record<string, unknown>)[k]));
    const routing: RoutingConfig = { providers: next.providers, routes: next.routes, retry: next.retry };
    this.#live = Object.freeze({ ...this.#live, ...routing });
    for (const s of this.shards()) s.post({ t: 'routing-reload', routing });
    this.log(`tollgate: config reloaded from ${this.configFile}: ${next.providers.length} providers, ${next.routes.length} routes`
      + (restartRequired.length ? ` (changes to ${restartRequired.join(', ')} need a restart)` : ''));
    return { ok: true, applied: [...APPLIED], restart_required: restartRequired, providers: next.providers.length, routes: next.routes.length };
  }

  /** A shard asked for every shard's target health. */
  gather(origin: number, reply: number): void {
    const id = this.#seq++;
    const shards = this.shards();
    const g: Gather = {
      origin, reply, pending: new Set(shards.map((s) => s.index)), snapshots: [],
      // A shard that died mid-way never answers: answer with the others.
      timer: setTimeout(() => this.#finish(id), HEALTH_WAIT_MS),
    };
    this.#gathers.set(id, g);
    for (const s of shards) s.post({ t: 'routing-health-request', id });
  }

  onHealth(id: number, shard: number, targets: TargetSnapshot[]): void {
    const g = this.#gathers.get(id);
    if (!g) return;
    g.snapshots[shard] = targets;
    g.pending.delete(shard);
    if (!g.pending.size) this.#finish(id);
  }

  #finish(id: number) {
    const g = this.#gathers.get(id);
    if (!g) return;
    this.#gathers.delete(id);
    clearTimeout(g.timer);
    const perShard = Array.from({ length: g.snapshots.length }, (_, i) => g.snapshots[i] ?? []);
    const origin = this.shards().find((s) => s.index === g.origin);
    origin?.post({ t: 'routing-health-collected', id: g.reply, targets: mergeHealth(perShard, Date.now()) });
  }
}
